#!/usr/bin/env bash
# Builds the api and frontend images from the build contexts that build.yml packed
# ($RUNNER_TEMP/dist/image/{api,frontend}: the static binary, its Dockerfile, and data/ for the api — the
# layout `make service-image-context` makes and service/Dockerfile.* expect) and pushes them to ECR,
# tagged with the commit:
#
#   push-images.sh    with IMAGE_TAG, API_REPOSITORY and FRONTEND_REPOSITORY (repository URLs, from
#                     plans/shared's `repository_urls` output) set, and docker logged in to the registry
#
# The repositories' tags are immutable: a tag that is already there (a re-run of the same commit) is kept,
# not pushed again.
set -euo pipefail
: "${IMAGE_TAG:?}" "${API_REPOSITORY:?}" "${FRONTEND_REPOSITORY:?}"
contexts=${DIST_DIR:-$RUNNER_TEMP/dist}/image

for svc in api frontend; do
  if [ "$svc" = api ]; then repo=$API_REPOSITORY; else repo=$FRONTEND_REPOSITORY; fi
  ctx=$contexts/$svc
  image=$repo:$IMAGE_TAG
  if out=$(aws ecr describe-images --repository-name "${repo#*/}" --image-ids "imageTag=$IMAGE_TAG" 2>&1); then
    echo "$image is already in ECR: kept (tags are immutable)"
    continue
  elif ! grep -q ImageNotFoundException <<<"$out"; then
    echo "$out" >&2
    exit 1
  fi
  [ "$svc" != api ] || mkdir -p "$ctx/data"
  docker build \
    --file "$ctx/Dockerfile.$svc" \
    --label "org.opencontainers.image.revision=$IMAGE_TAG" \
    --tag "$image" \
    "$ctx"
  docker push "$image"
  if [ -n "${GITHUB_STEP_SUMMARY:-}" ]; then
    echo "- pushed \`$image\`" >>"$GITHUB_STEP_SUMMARY"
  fi
done
