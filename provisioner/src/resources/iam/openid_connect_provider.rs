//! `iam_openid_connect_provider`: an IAM OpenID Connect identity provider, e.g. GitHub Actions'
//! (terraform-provider-aws's `aws_iam_openid_connect_provider`). Id = the provider's ARN (what `import`
//! takes): `arn:aws:iam::ACCOUNT:oidc-provider/HOST/PATH`.
//!
//! `url` (`https://token.actions.githubusercontent.com`) forces replacement; IAM reports it without the
//! scheme, and both spellings compare equal ([`normalize_url`]). `client_id_list` (audiences, e.g.
//! `sts.amazonaws.com`) and `thumbprint_list` are sets. `thumbprint_list` is optional: AWS no longer uses
//! thumbprints for providers such as GitHub's (it trusts their certificate authority), so when the
//! configuration leaves it out it is not compared (optional + computed), and the create sends none.
//!
//! Create is one CreateOpenIDConnectProvider carrying every tag; one URL has at most one provider per
//! account, so `EntityAlreadyExists` finds the existing one (ListOpenIDConnectProviders): taken when it
//! carries this instance's tool tags (a retried create whose answer was lost), otherwise the error names
//! its ARN for `import`. Update in place: AddClientIDToOpenIDConnectProvider /
//! RemoveClientIDFromOpenIDConnectProvider per audience added or removed, UpdateOpenIDConnectProviderThumbprint
//! when a configured list changed, TagOpenIDConnectProvider / UntagOpenIDConnectProvider. Delete:
//! DeleteOpenIDConnectProvider, `NoSuchEntity` = already gone.
//!
//! Read: one GetOpenIDConnectProvider per provider (IAM has no batch read), at most 8 at once.
//! `read_stack`: IAM cannot filter providers by tag; an account has a handful of them, so the refresh lists
//! them (ListOpenIDConnectProviders, one call) and reads each (its tags tell the stack's apart): 1 + P calls
//! for P providers in the account, one sequential round trip after the listing.

use std::collections::{BTreeSet, HashMap};
use std::sync::LazyLock;

use async_trait::async_trait;
use futures::{StreamExt, TryStreamExt};

use super::role::stack_selects;
use super::util::*;
use crate::aws::{aws_err, tag_map, Ctx, ProviderError, TOOL_TAG_PREFIX};
use crate::resource::{Checkpoint, Resource};
use crate::schema::{Attribute, Schema, Type, TAGS};
use crate::value::{Attrs, Value};

pub struct IamOpenidConnectProvider;

static SCHEMA: LazyLock<Schema> = LazyLock::new(|| {
    Schema::new("iam_openid_connect_provider", "An IAM OpenID Connect identity provider.")
        .taggable()
        .attr(
            Attribute::string("url")
                .required()
                .forces_new()
                .describe("URL of the identity provider, e.g. https://token.actions.githubusercontent.com."),
        )
        .attr(
            Attribute::new("client_id_list", Type::set(Type::String))
                .required()
                .describe("Audiences (client ids) tokens may be issued for, e.g. [\"sts.amazonaws.com\"]."),
        )
        .attr(
            Attribute::new("thumbprint_list", Type::set(Type::String))
                .optional_computed()
                .describe("SHA-1 thumbprints (40 hex digits) of the provider's certificates; not needed for providers AWS trusts by their CA (GitHub's), not compared when left out."),
        )
        .attr(Attribute::string("arn").computed().describe("ARN of the provider."))
});

/// The URL with its `https://` scheme (IAM reports it without).
pub(crate) fn normalize_url(url: &str) -> String {
    if url.contains("://") {
        url.to_owned()
    } else {
        format!("https://{url}")
    }
}

fn strings(attrs: &Attrs, name: &str) -> Option<Vec<String>> {
    attrs.get(name).filter(|v| v.is_known() && !v.is_null()).and_then(Value::as_str_list)
}

/// The configuration's mistakes IAM would refuse.
fn check(cfg: &Attrs) -> Result<(), String> {
    if let Some(url) = cfg.get("url").and_then(Value::as_str) {
        let host = url.strip_prefix("https://").map(|r| r.split('/').next().unwrap_or_default());
        if host.is_none_or(str::is_empty) {
            return Err(format!("`url` must begin with https:// and name a host, e.g. https://token.actions.githubusercontent.com; found `{url}`"));
        }
    }
    if let Some(ids) = strings(cfg, "client_id_list") {
        if ids.is_empty() || ids.len() > 100 {
            return Err(
                "`client_id_list` needs 1 to 100 client ids (for GitHub Actions: [\"sts.amazonaws.com\"])".into()
            );
        }
        if let Some(id) = ids.iter().find(|i| i.is_empty() || i.len() > 255) {
            return Err(format!("client id `{id}` must be 1 to 255 characters"));
        }
    }
    if let Some(prints) = strings(cfg, "thumbprint_list") {
        if prints.len() > 5 {
            return Err("`thumbprint_list` holds at most 5 thumbprints".into());
        }
        if let Some(t) = prints.iter().find(|t| t.len() != 40 || !t.bytes().all(|b| b.is_ascii_hexdigit())) {
            return Err(format!("thumbprint `{t}` is not a SHA-1 fingerprint (40 hex digits)"));
        }
    }
    Ok(())
}

async fn get_provider(cx: &Ctx, arn: String) -> Result<Option<(String, Attrs)>, ProviderError> {
    let r = absent_ok(
        iam(cx).get_open_id_connect_provider().open_id_connect_provider_arn(&arn).send().await.map_err(aws_err),
    )?;
    Ok(r.map(|out| {
        let mut a = Attrs::new();
        a.insert("id".into(), Value::str(&arn));
        a.insert("arn".into(), Value::str(&arn));
        a.insert("url".into(), Value::str(normalize_url(out.url().unwrap_or_default())));
        a.insert("client_id_list".into(), Value::string_list(out.client_id_list()));
        a.insert("thumbprint_list".into(), Value::string_list(out.thumbprint_list()));
        a.insert(TAGS.into(), tags_value(&tags_of(out.tags())));
        (arn, a)
    }))
}

impl IamOpenidConnectProvider {
    async fn read_arns(&self, cx: &Ctx, ids: &[String]) -> Result<HashMap<String, Attrs>, ProviderError> {
        let futs: Vec<_> =
            distinct(ids.iter().map(String::as_str)).into_iter().map(|arn| get_provider(cx, arn)).collect();
        let found: Vec<Option<(String, Attrs)>> = futures::stream::iter(futs).buffer_unordered(8).try_collect().await?;
        Ok(found.into_iter().flatten().collect())
    }

    async fn list(&self, cx: &Ctx) -> Result<Vec<String>, ProviderError> {
        let out = iam(cx).list_open_id_connect_providers().send().await.map_err(aws_err)?;
        Ok(out.open_id_connect_provider_list().iter().filter_map(|p| p.arn()).map(str::to_owned).collect())
    }

    /// After EntityAlreadyExists: the account's provider for `url`, taken when it carries this instance's
    /// tool tags; otherwise an error naming it.
    async fn existing(&self, cx: &Ctx, url: &str, desired: &Attrs) -> Result<String, ProviderError> {
        let all = self.read_arns(cx, &self.list(cx).await?).await?;
        let want: Vec<(String, String)> =
            tag_map(desired).into_iter().filter(|(k, _)| k.starts_with(TOOL_TAG_PREFIX)).collect();
        let same = all.into_values().find(|a| a.get("url").and_then(Value::as_str) == Some(url));
        match same {
            Some(a) if !want.is_empty() && want.iter().all(|(k, v)| tag_map(&a).get(k) == Some(v)) => {
                tracing::info!(url, "CreateOpenIDConnectProvider: the provider exists with this instance's tags; taking it");
                Ok(get_id(&a)?.to_owned())
            }
            Some(a) => Err(ProviderError::with_code(
                "EntityAlreadyExists",
                format!(
                    "an OpenID Connect provider for {url} already exists in this account ({}), and an account has one \
                     per URL; bring it under this address with `provisioner import ADDRESS {}`",
                    get_id(&a)?,
                    get_id(&a)?
                ),
            )),
            None => Err(ProviderError::with_code(
                "EntityAlreadyExists",
                format!("IAM reports an OpenID Connect provider for {url} already exists, but it is not listed yet; try again"),
            )),
        }
    }

    async fn read_one(&self, cx: &Ctx, arn: &str) -> Result<Attrs, ProviderError> {
        let ids = [arn.to_owned()];
        read_back(cx, "OpenID Connect provider", arn, || self.read_arns(cx, &ids)).await
    }
}

#[async_trait]
impl Resource for IamOpenidConnectProvider {
    fn schema(&self) -> &Schema {
        &SCHEMA
    }

    fn normalize(&self, attrs: &mut Attrs) {
        if let Some(u) = attrs.get("url").and_then(Value::as_str).map(normalize_url) {
            attrs.insert("url".into(), Value::str(u));
        }
    }

    fn validate(&self, cfg: &Attrs) -> Result<(), String> {
        check(cfg)
    }

    async fn read(&self, cx: &Ctx, ids: &[String]) -> Result<HashMap<String, Attrs>, ProviderError> {
        self.read_arns(cx, ids).await
    }

    async fn read_stack(&self, cx: &Ctx, ids: &[String]) -> Result<HashMap<String, Attrs>, ProviderError> {
        let mut arns = self.list(cx).await?;
        arns.extend(ids.iter().cloned());
        let all = self.read_arns(cx, &arns).await?;
        Ok(all.into_iter().filter(|(arn, a)| ids.contains(arn) || stack_selects(cx, &tag_map(a))).collect())
    }

    async fn create(&self, cx: &Ctx, desired: &Attrs, checkpoint: &dyn Checkpoint) -> Result<Attrs, ProviderError> {
        check(desired).map_err(|m| ProviderError::with_code("ValidationError", m))?;
        let url = normalize_url(req_str(desired, "url")?);
        let created = iam(cx)
            .create_open_id_connect_provider()
            .url(&url)
            .set_client_id_list(strings(desired, "client_id_list"))
            .set_thumbprint_list(strings(desired, "thumbprint_list").filter(|t| !t.is_empty()))
            .set_tags(Some(iam_tags(desired)?))
            .send()
            .await
            .map_err(aws_err);
        let arn = match created {
            Ok(out) => out.open_id_connect_provider_arn().unwrap_or_default().to_owned(),
            Err(e) if e.code.as_deref() == Some("EntityAlreadyExists") => self.existing(cx, &url, desired).await?,
            Err(e) => return Err(e),
        };
        let mut cp = with_id(desired, &arn);
        cp.insert("arn".into(), Value::str(&arn));
        checkpoint.created(&cp).await;
        self.read_one(cx, &arn).await
    }

    async fn update(&self, cx: &Ctx, prior: &Attrs, desired: &Attrs) -> Result<Attrs, ProviderError> {
        check(desired).map_err(|m| ProviderError::with_code("ValidationError", m))?;
        let arn = get_id(prior)?.to_owned();
        let client = iam(cx);
        let set = |a: &Attrs, n: &str| strings(a, n).unwrap_or_default().into_iter().collect::<BTreeSet<String>>();
        let (old, new) = (set(prior, "client_id_list"), set(desired, "client_id_list"));
        // Added first: a provider keeps at least one audience throughout.
        for id in new.difference(&old) {
            client
                .add_client_id_to_open_id_connect_provider()
                .open_id_connect_provider_arn(&arn)
                .client_id(id)
                .send()
                .await
                .map_err(aws_err)?;
        }
        for id in old.difference(&new) {
            client
                .remove_client_id_from_open_id_connect_provider()
                .open_id_connect_provider_arn(&arn)
                .client_id(id)
                .send()
                .await
                .map_err(aws_err)?;
        }
        if let Some(prints) = strings(desired, "thumbprint_list") {
            if prints.iter().collect::<BTreeSet<_>>() != set(prior, "thumbprint_list").iter().collect::<BTreeSet<_>>() {
                client
                    .update_open_id_connect_provider_thumbprint()
                    .open_id_connect_provider_arn(&arn)
                    .set_thumbprint_list(Some(prints))
                    .send()
                    .await
                    .map_err(aws_err)?;
            }
        }
        let (old, new) = (tag_map(prior), tag_map(desired));
        let removed: Vec<String> = old.keys().filter(|k| !new.contains_key(*k)).cloned().collect();
        if !removed.is_empty() {
            client
                .untag_open_id_connect_provider()
                .open_id_connect_provider_arn(&arn)
                .set_tag_keys(Some(removed))
                .send()
                .await
                .map_err(aws_err)?;
        }
        let changed: Attrs =
            new.iter().filter(|(k, v)| old.get(*k) != Some(v)).map(|(k, v)| (k.clone(), Value::str(v))).collect();
        if !changed.is_empty() {
            let tags = iam_tags(&Attrs::from([(TAGS.to_owned(), Value::Map(changed.into_iter().collect()))]))?;
            client
                .tag_open_id_connect_provider()
                .open_id_connect_provider_arn(&arn)
                .set_tags(Some(tags))
                .send()
                .await
                .map_err(aws_err)?;
        }
        self.read_one(cx, &arn).await
    }

    async fn delete(&self, cx: &Ctx, prior: &Attrs) -> Result<(), ProviderError> {
        let arn = get_id(prior)?;
        absent_ok(
            iam(cx).delete_open_id_connect_provider().open_id_connect_provider_arn(arn).send().await.map_err(aws_err),
        )
        .map(drop)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(pairs: &[(&str, Value)]) -> Attrs {
        pairs.iter().map(|(k, v)| ((*k).to_owned(), v.clone())).collect()
    }

    #[test]
    fn the_url_compares_with_or_without_its_scheme() {
        assert_eq!(normalize_url("token.actions.githubusercontent.com"), "https://token.actions.githubusercontent.com");
        assert_eq!(
            normalize_url("https://token.actions.githubusercontent.com"),
            "https://token.actions.githubusercontent.com"
        );
        let mut a = cfg(&[("url", Value::str("token.actions.githubusercontent.com"))]);
        IamOpenidConnectProvider.normalize(&mut a);
        assert_eq!(a["url"], Value::str("https://token.actions.githubusercontent.com"));
        assert!(SCHEMA.attribute("url").unwrap().forces_replacement);
        assert!(!SCHEMA.attribute("client_id_list").unwrap().forces_replacement);
    }

    #[test]
    fn mistakes_are_found_before_any_call() {
        let github = Value::str("https://token.actions.githubusercontent.com");
        let sts = Value::string_list(["sts.amazonaws.com"]);
        assert_eq!(check(&cfg(&[("url", github.clone()), ("client_id_list", sts.clone())])), Ok(()));
        let e =
            check(&cfg(&[("url", Value::str("http://x.example.com")), ("client_id_list", sts.clone())])).unwrap_err();
        assert!(e.contains("must begin with https://"), "{e}");
        let e = check(&cfg(&[("url", github.clone()), ("client_id_list", Value::List(vec![]))])).unwrap_err();
        assert!(e.contains("1 to 100"), "{e}");
        let e =
            check(&cfg(&[("url", github), ("client_id_list", sts), ("thumbprint_list", Value::string_list(["abc"]))]))
                .unwrap_err();
        assert!(e.contains("40 hex digits"), "{e}");
    }
}
