#!/usr/bin/env bash
# deploy-plan.sh: what a run of .github/workflows/deploy.yml deploys, decided from the event that started it. The
# workflow's resolve job runs it in the checkout of this repository and appends its output to $GITHUB_OUTPUT.
set -euo pipefail

usage() {
  cat <<'EOF'
Usage: scripts/deploy-plan.sh [--help]

Reads the event of a deploy workflow run from the environment and prints, as GITHUB_OUTPUT lines:
  legs=<JSON list>   the deploys to run, in order: {"stage": "dev", "image-tag": "<tag>" or "" (keep the image
                     the stage runs: scripts/deploy.sh --keep-image)}
  build=true|false   whether the build job builds and pushes h2o-backend:<image-tag> first
  image-tag=<tag>    the tag the build job builds (empty when nothing is built)
  backend-dir=<dir>  the build context

Events (EVENT = github.event_name; INPUT_INFRA set means a workflow_call from another repository):
  push to main       the files changed between BEFORE and SHA (git diff) decide: a change under backend/ (with a
                     backend/Dockerfile) builds the image of SHA and deploys it to dev; a change to the
                     infrastructure (INFRA_PATHS below, tests and docs aside) deploys dev with the image it runs
                     and then prod with the image it runs, prod after its reviewers approve (the `prod` GitHub
                     environment). Nothing else is deployed.
  workflow_dispatch  INPUT_STAGE; INPUT_KEEP_IMAGE=true deploys the commit's infrastructure with the image the
                     stage runs (no INPUT_TAG then); INPUT_TAG deploys that image (already in ECR); neither builds
                     INPUT_DIR (default backend) at this commit, which must have a Dockerfile.
  workflow_call      INPUT_STAGE and INPUT_TAG (the caller pushed the image).
  repository_dispatch  PAYLOAD_STAGE and PAYLOAD_TAG (the backend repository pushed the image).

Exit status: 0 planned (legs may be empty: nothing to deploy); 1 an input is not acceptable (the message says
which).
EOF
}

# shellcheck source=scripts/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

for arg in "$@"; do
  case $arg in
    -h | --help) usage; exit 0 ;;
    *) die_usage "unexpected argument '$arg'" ;;
  esac
done

# What the infrastructure is: what `cdk synth` reads (the app, its settings and modules, the pinned CLI). The
# push trigger of deploy.yml lists the same paths (a test holds them equal).
INFRA_PATHS="app.go cdk.json go.mod go.sum package.json package-lock.json config/ internal/ stacks/"

check_stage() {
  local s
  for s in $STAGES; do [[ $1 != "$s" ]] || return 0; done
  die "stage must be one of: ${STAGES// /, } (not '$1')"
}

check_tag() {
  [[ $1 =~ $TAG_PATTERN ]] || die "the image tag must be a Docker tag (letters, digits, _ . -, at most 128), not '$1'"
}

# infra_file PATH: whether a changed file is part of the infrastructure (tests and docs are not).
infra_file() {
  local p
  case $1 in *_test.go | *.md) return 1 ;; esac
  for p in $INFRA_PATHS; do
    if [[ $p == */ && $1 == "$p"* ]] || [[ $1 == "$p" ]]; then return 0; fi
  done
  return 1
}

leg() { printf '{"stage":"%s","image-tag":"%s"}' "$1" "$2"; }

stage="" tag="" legs="" build=false dir=backend
if [[ -n ${INPUT_INFRA:-} ]]; then
  # workflow_call (github.event_name is then the caller's event): the caller built and pushed the image.
  stage=${INPUT_STAGE:-} tag=${INPUT_TAG:-}
  check_stage "$stage"
  check_tag "$tag"
  legs=$(leg "$stage" "$tag")
else
  case ${EVENT:-} in
    repository_dispatch)
      stage=${PAYLOAD_STAGE:-} tag=${PAYLOAD_TAG:-}
      check_stage "$stage"
      check_tag "$tag"
      legs=$(leg "$stage" "$tag")
      ;;
    workflow_dispatch)
      stage=${INPUT_STAGE:-} tag=${INPUT_TAG:-} dir=${INPUT_DIR:-backend}
      check_stage "$stage"
      if [[ ${INPUT_KEEP_IMAGE:-false} == true ]]; then
        [[ -z $tag ]] || die "keep-image and an image tag exclude each other: clear one"
        legs=$(leg "$stage" "")
      elif [[ -n $tag ]]; then
        check_tag "$tag"
        legs=$(leg "$stage" "$tag")
      else
        [[ -f $dir/Dockerfile ]] ||
          die "no image tag, and no $dir/Dockerfile to build one from at this commit: give an image tag that is in ECR, or choose keep-image to deploy the infrastructure with the image $stage runs"
        tag=${SHA:?} build=true
        legs=$(leg "$stage" "$tag")
      fi
      ;;
    push)
      # A new branch or a force push has no usable BEFORE: then everything counts as changed.
      changed=""
      if [[ -z ${BEFORE:-} || $BEFORE =~ ^0+$ ]] || ! changed=$(git diff --name-only "$BEFORE" "${SHA:?}"); then
        log "cannot tell what changed since '${BEFORE:-}': treating every part as changed"
        changed="$dir/ app.go"
      fi
      backend=0 infra=0
      for f in $changed; do
        case $f in "$dir"/*) backend=1 ;; esac
        ! infra_file "$f" || infra=1
      done
      if ((backend)) && [[ -f $dir/Dockerfile ]]; then
        tag=${SHA:?} build=true
        legs=$(leg dev "$tag")
      elif ((infra)); then
        legs=$(leg dev "")
      fi
      # An infrastructure change goes on to prod, with the image prod runs, once its reviewers approve.
      if ((infra)); then legs+="${legs:+,}$(leg prod "")"; fi
      ;;
    *) die "deploy.yml does not run on '${EVENT:-}' events" ;;
  esac
fi
[[ $dir =~ ^[A-Za-z0-9_][A-Za-z0-9_./-]*$ && $dir != *..* ]] || die "backend-dir must be a relative path inside the repository, not '$dir'"

printf 'legs=[%s]\nbuild=%s\nimage-tag=%s\nbackend-dir=%s\n' "$legs" "$build" "$([[ $build == true ]] && printf '%s' "$tag")" "$dir"
if [[ -z $legs ]]; then
  log "nothing to deploy: no change to the backend or the infrastructure"
else
  log "deploys, in order: $legs (build: $build)"
fi
