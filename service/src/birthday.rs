//! Pure domain rules: username and date validation, and the birthday greeting.

use chrono::{Datelike, NaiveDate};

/// Longest accepted username.
pub const MAX_USERNAME_LEN: usize = 64;

/// Checks that `name` matches ASCII `[A-Za-z]{1,64}`.
pub fn validate_username(name: &str) -> Result<(), String> {
    if name.is_empty() {
        return Err("username must not be empty".into());
    }
    if name.len() > MAX_USERNAME_LEN {
        return Err(format!("username must be at most {MAX_USERNAME_LEN} letters"));
    }
    if !name.bytes().all(|b| b.is_ascii_alphabetic()) {
        return Err("username must contain only ASCII letters A-Z and a-z".into());
    }
    Ok(())
}

/// Parses a strict `YYYY-MM-DD` date (four-digit year from 0001, zero-padded
/// month and day) and checks it is before `today`.
pub fn parse_date_of_birth(s: &str, today: NaiveDate) -> Result<NaiveDate, String> {
    let b = s.as_bytes();
    let shape_ok = b.len() == 10
        && b[4] == b'-'
        && b[7] == b'-'
        && b.iter().enumerate().all(|(i, c)| i == 4 || i == 7 || c.is_ascii_digit());
    if !shape_ok {
        return Err(format!("dateOfBirth {s:?} is not in YYYY-MM-DD format"));
    }
    let num = |r: std::ops::Range<usize>| s[r].parse::<u32>().unwrap_or(0);
    let (y, m, d) = (num(0..4), num(5..7), num(8..10));
    let date = (y >= 1)
        .then(|| NaiveDate::from_ymd_opt(y as i32, m, d))
        .flatten()
        .ok_or_else(|| format!("dateOfBirth {s:?} is not a valid calendar date"))?;
    if date >= today {
        return Err(format!("dateOfBirth {s} must be a date before today ({today})"));
    }
    Ok(date)
}

/// The birthday of someone born on `dob` in `year`; 29 February becomes
/// 28 February in non-leap years.
pub fn birthday_in(dob: NaiveDate, year: i32) -> NaiveDate {
    NaiveDate::from_ymd_opt(year, dob.month(), dob.day())
        .or_else(|| NaiveDate::from_ymd_opt(year, 2, 28))
        .expect("28 February exists every year")
}

/// Days from `today` until the next birthday (0 when it is today).
pub fn days_until_birthday(dob: NaiveDate, today: NaiveDate) -> i64 {
    let this_year = birthday_in(dob, today.year());
    let next = if this_year >= today { this_year } else { birthday_in(dob, today.year() + 1) };
    (next - today).num_days()
}

/// The greeting returned by `GET /hello/<username>`.
pub fn greeting(username: &str, dob: NaiveDate, today: NaiveDate) -> String {
    match days_until_birthday(dob, today) {
        0 => format!("Hello, {username}! Happy birthday!"),
        n => format!("Hello, {username}! Your birthday is in {n} day(s)"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    #[test]
    fn usernames() {
        assert!(validate_username("Alice").is_ok());
        assert!(validate_username(&"a".repeat(64)).is_ok());
        assert!(validate_username(&"a".repeat(65)).is_err());
        assert!(validate_username("").is_err());
        for bad in ["bob1", "a b", "é", "Zoë", "x'; DROP TABLE users;--", "a-b", "名前"] {
            assert!(validate_username(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn dates() {
        let today = d("2024-06-15");
        assert_eq!(parse_date_of_birth("2000-02-29", today).unwrap(), d("2000-02-29"));
        assert!(parse_date_of_birth("2024-06-14", today).is_ok());
        for bad in [
            "2024-06-15",
            "2024-06-16",
            "2001-02-29",
            "2000-13-01",
            "2000-1-01",
            "20000-01-01",
            "0000-01-01",
            "2000/01/01",
            " 2000-01-01",
            "2000-01-01T00:00:00",
            "",
            "+200-01-01",
        ] {
            assert!(parse_date_of_birth(bad, today).is_err(), "{bad}");
        }
    }

    #[test]
    fn day_counts() {
        assert_eq!(days_until_birthday(d("1990-06-15"), d("2024-06-15")), 0);
        assert_eq!(days_until_birthday(d("1990-06-16"), d("2024-06-15")), 1);
        assert_eq!(days_until_birthday(d("1990-06-14"), d("2024-06-15")), 364);
        // across the year end
        assert_eq!(days_until_birthday(d("1990-01-01"), d("2023-12-31")), 1);
        assert_eq!(days_until_birthday(d("1990-12-31"), d("2024-01-01")), 365);
        // leap-day birthdays
        assert_eq!(days_until_birthday(d("2000-02-29"), d("2023-02-28")), 0);
        assert_eq!(days_until_birthday(d("2000-02-29"), d("2024-02-28")), 1);
        assert_eq!(days_until_birthday(d("2000-02-29"), d("2024-02-29")), 0);
        assert_eq!(days_until_birthday(d("2000-02-29"), d("2023-03-01")), 365);
        assert_eq!(days_until_birthday(d("2000-03-01"), d("2024-02-28")), 2);
        assert_eq!(greeting("Ann", d("2000-02-29"), d("2023-02-28")), "Hello, Ann! Happy birthday!");
        assert_eq!(greeting("Ann", d("2000-03-01"), d("2024-02-28")), "Hello, Ann! Your birthday is in 2 day(s)");
    }
}
