# shellcheck shell=bash
# Findings of the nightly checks (drift.sh, versions.sh) to a stage's alarm topic: e-mail subscribers get the plain
# text, AWS Chatbot (Slack) a custom notification. Sourced after common.sh, never run; bash 3.2 compatible.

# json_string TEXT: TEXT as a JSON string literal: backslash, quote and the control characters escaped (JSON, RFC
# 8259 section 7); other control characters (none is expected in AWS values) are dropped.
json_string() {
  local s
  s=$(printf '%s' "$1" | LC_ALL=C tr -d '\000-\010\013\014\016-\037')
  s=${s//\\/\\\\}
  s=${s//\"/\\\"}
  s=${s//$'\n'/\\n}
  s=${s//$'\t'/\\t}
  s=${s//$'\r'/\\r}
  printf '"%s"' "$s"
}

# notify TOPIC SUBJECT BODY: publish BODY to the SNS topic TOPIC (traced). With --message-structure json the message
# is one text per protocol and "default" for the others (SNS API reference, Publish, MessageStructure): e-mail gets
# BODY, AWS Chatbot the custom notification format, {"version": "1.0", "source": "custom", "content": {...}} ("Custom
# notifications using Amazon Q Developer in chat applications"; a plain text message is not shown in the channel).
# The subject is at most 100 characters of one line (Publish, Subject). Returns 1, with the CLI's message, when SNS
# refuses: the findings did not reach anyone.
notify() {
  local topic=$1 subject=$2 body=$3 chat message
  subject=${subject//$'\n'/ }
  subject=${subject:0:100}
  # Chat messages stay short: the full text goes by e-mail and to the job's log.
  chat=$(printf '{"version":"1.0","source":"custom","content":{"textType":"client-markdown","title":%s,"description":%s}}' \
    "$(json_string "$subject")" "$(json_string "${body:0:3500}")")
  message=$(printf '{"default":%s,"email":%s}' "$(json_string "$chat")" "$(json_string "$body")")
  if run aws sns publish --region "$REGION" --topic-arn "$topic" --subject "$subject" --message-structure json \
    --message "$message" --query MessageId --output text >/dev/null; then
    log "findings sent to $topic"
    return 0
  fi
  warn "could not publish the findings to $topic (the AWS CLI's error is above)"
  return 1
}

# parse_check_args ARGS...: the nightly checks' command line, `<script> [--notify] <target>`: sets notify_topic (1
# with --notify) and target; -h prints usage and exits; anything else is a usage error.
# shellcheck disable=SC2034 # notify_topic and target are the caller's (drift.sh, versions.sh)
parse_check_args() {
  local arg
  notify_topic=0 target=""
  for arg in "$@"; do
    case $arg in
      -h | --help) usage; exit 0 ;;
      --notify) notify_topic=1 ;;
      -*) die_usage "unknown option '$arg'" ;;
      *) [[ -z $target ]] || die_usage "unexpected argument '$arg'"; target=$arg ;;
    esac
  done
  [[ -n $target ]] || die_usage "missing <stage>"
}
