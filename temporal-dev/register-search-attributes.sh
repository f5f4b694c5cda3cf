#!/bin/sh
# Register Signoff's custom search attributes on a Temporal namespace with the `temporal` CLI.
# Used by compose.yaml; tests/devstack checks this list against schemas/search_attributes.py.
set -eu
ADDRESS="${TEMPORAL_ADDRESS:-127.0.0.1:7233}"
NAMESPACE="${TEMPORAL_NAMESPACE:-default}"
until temporal operator cluster health --address "$ADDRESS" >/dev/null 2>&1; do sleep 1; done
temporal operator namespace describe --address "$ADDRESS" -n "$NAMESPACE" >/dev/null 2>&1 \
  || temporal operator namespace create --address "$ADDRESS" -n "$NAMESPACE"
for attribute in \
  SignoffStatus=Keyword \
  SignoffLevel=Int \
  SignoffAssignees=KeywordList \
  SignoffOrg=Keyword \
  SignoffSla=Keyword \
  SignoffAmount=Double \
  SignoffPriority=Keyword \
  SignoffTemplate=Keyword \
  SignoffSupplier=Keyword
do
  name="${attribute%%=*}"
  kind="${attribute#*=}"
  temporal operator search-attribute create --address "$ADDRESS" -n "$NAMESPACE" \
    --name "$name" --type "$kind" 2>/dev/null || echo "$name already registered"
done
echo "Signoff search attributes registered on $NAMESPACE"
