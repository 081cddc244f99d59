#!/usr/bin/env bash
# Creates or updates a pull request's one sticky comment:
#
#   sticky-comment.sh MARKER BODY_FILE
#
# The comment is the one whose body starts with MARKER (a hidden HTML comment such as
# `<!-- provisioner-plan -->`) and that this workflow's token wrote (author $COMMENT_AUTHOR, by default
# github-actions[bot]; a comment anyone else wrote with the same marker is never touched). It is PATCHed in
# place when it exists, else created: one comment per pull request, however often the plan runs.
# BODY_FILE is the body without the marker, cut to GitHub's limit of 65,536 characters.
# Needs gh with GH_TOKEN (pull-requests: write), GITHUB_REPOSITORY and PR_NUMBER.
set -euo pipefail

marker=${1:?usage: sticky-comment.sh MARKER BODY_FILE}
body_file=${2:?usage: sticky-comment.sh MARKER BODY_FILE}
: "${GITHUB_REPOSITORY:?}" "${PR_NUMBER:?}"
author=${COMMENT_AUTHOR:-github-actions[bot]}
limit=65000

body=$(mktemp)
trap 'rm -f "$body"' EXIT
{
  printf '%s\n' "$marker"
  if [ "$(wc -c <"$body_file")" -gt "$limit" ]; then
    head -c "$limit" "$body_file" | iconv -c -f UTF-8 -t UTF-8 # drop a character cut in two
    printf '\n\n… cut here: the comment is too long; the full plans are in the run'"'"'s job summaries.\n'
  else
    cat "$body_file"
  fi
} >"$body"

id=$(gh api --paginate "repos/$GITHUB_REPOSITORY/issues/$PR_NUMBER/comments" \
  --jq ".[] | select(.user.login == \"$author\" and (.body | startswith(\"$marker\"))) | .id" | head -n 1)

if [ -n "$id" ]; then
  gh api --method PATCH "repos/$GITHUB_REPOSITORY/issues/comments/$id" -F "body=@$body" --jq .html_url
  echo "sticky-comment.sh: updated comment $id"
else
  gh api --method POST "repos/$GITHUB_REPOSITORY/issues/$PR_NUMBER/comments" -F "body=@$body" --jq .html_url
  echo "sticky-comment.sh: created a comment"
fi
