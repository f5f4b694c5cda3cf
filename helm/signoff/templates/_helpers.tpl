{{/* Names and labels. */}}
{{- define "signoff.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "signoff.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "signoff.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "signoff.labels" -}}
helm.sh/chart: {{ include "signoff.chart" . }}
{{ include "signoff.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: signoff
{{- end }}

{{- define "signoff.selectorLabels" -}}
app.kubernetes.io/name: {{ include "signoff.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{/* Labels of one component: include "signoff.componentLabels" (list $ "api") */}}
{{- define "signoff.componentLabels" -}}
{{ include "signoff.labels" (index . 0) }}
app.kubernetes.io/component: {{ index . 1 }}
{{- end }}

{{- define "signoff.componentSelectorLabels" -}}
{{ include "signoff.selectorLabels" (index . 0) }}
app.kubernetes.io/component: {{ index . 1 }}
{{- end }}

{{- define "signoff.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "signoff.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "signoff.image" -}}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository (.Values.image.tag | default .Chart.AppVersion) }}
{{- end }}
{{- end }}

{{/* The image's writable data folder (SIGNOFF_DATA_DIR), the same as in the Dockerfile. */}}
{{- define "signoff.dataDir" -}}
/var/lib/signoff
{{- end }}

{{/* The public URL: configured, else the first Ingress host. */}}
{{- define "signoff.publicUrl" -}}
{{- if .Values.config.publicUrl }}
{{- .Values.config.publicUrl }}
{{- else if and .Values.ingress.enabled .Values.ingress.hosts }}
{{- $host := (first .Values.ingress.hosts).host }}
{{- printf "%s://%s" (ternary "https" "http" (gt (len .Values.ingress.tls) 0)) $host }}
{{- end }}
{{- end }}

{{/*
The non-secret settings as a YAML map of SIGNOFF_* variables to strings: the ConfigMap's data,
and the hook Jobs' env (a hook cannot rely on the release's ConfigMap: it does not exist yet
at pre-install).
*/}}
{{- define "signoff.configData" -}}
{{- $v := .Values }}
{{- $env := dict }}
{{- $_ := set $env "SIGNOFF_API_HOST" "0.0.0.0" }}
{{- $_ = set $env "SIGNOFF_API_PORT" (toString $v.api.containerPort) }}
{{- $_ = set $env "SIGNOFF_DATA_DIR" (include "signoff.dataDir" .) }}
{{- $_ = set $env "SIGNOFF_TEMPORAL_ADDRESS" $v.temporal.address }}
{{- $_ = set $env "SIGNOFF_TEMPORAL_NAMESPACE" $v.temporal.namespace }}
{{- $_ = set $env "SIGNOFF_TEMPORAL_TLS" (toString $v.temporal.tls) }}
{{- $_ = set $env "SIGNOFF_TASK_QUEUE" $v.temporal.taskQueue }}
{{- $public := include "signoff.publicUrl" . }}
{{- if $public }}
{{- $_ = set $env "SIGNOFF_PUBLIC_URL" $public }}
{{- end }}
{{- with $v.config.s3 }}
{{- if .bucket }}
{{- $_ = set $env "SIGNOFF_S3_BUCKET" .bucket }}
{{- $_ = set $env "SIGNOFF_S3_REGION" .region }}
{{- if .endpointUrl }}{{ $_ = set $env "SIGNOFF_S3_ENDPOINT_URL" .endpointUrl }}{{ end }}
{{- if .accessKey }}{{ $_ = set $env "SIGNOFF_S3_ACCESS_KEY" .accessKey }}{{ end }}
{{- end }}
{{- end }}
{{- with $v.config.smtp }}
{{- if .host }}
{{- $_ = set $env "SIGNOFF_SMTP_HOST" .host }}
{{- $_ = set $env "SIGNOFF_SMTP_PORT" (toString .port) }}
{{- $_ = set $env "SIGNOFF_SMTP_STARTTLS" (toString .starttls) }}
{{- $_ = set $env "SIGNOFF_SMTP_TLS" (toString .tls) }}
{{- if .username }}{{ $_ = set $env "SIGNOFF_SMTP_USERNAME" .username }}{{ end }}
{{- end }}
{{- if .from }}{{ $_ = set $env "SIGNOFF_MAIL_FROM" .from }}{{ end }}
{{- end }}
{{- if $v.config.otlpEndpoint }}
{{- $_ = set $env "SIGNOFF_OTEL_EXPORTER_OTLP_ENDPOINT" $v.config.otlpEndpoint }}
{{- end }}
{{- range $name, $value := $v.config.extraEnv }}
{{- if and (kindIs "float64" $value) (eq $value (floor $value)) }}
{{- /* YAML numbers arrive as floats: 20971520 must not become 2.097152e+07 */}}
{{- $value = int64 $value }}
{{- end }}
{{- $_ = set $env $name (toString $value) }}
{{- end }}
{{- toYaml $env }}
{{- end }}

{{/* Which secretKeys entry feeds which variable. */}}
{{- define "signoff.secretVariables" -}}
secretKey: SIGNOFF_SECRET_KEY
encryptionKeys: SIGNOFF_ENCRYPTION_KEYS
databaseUrl: SIGNOFF_DATABASE_URL
temporalApiKey: SIGNOFF_TEMPORAL_API_KEY
s3SecretKey: SIGNOFF_S3_SECRET_KEY
smtpPassword: SIGNOFF_SMTP_PASSWORD
replyImapPassword: SIGNOFF_REPLY_IMAP_PASSWORD
{{- end }}

{{/*
env entries reading secrets from the existing Secret: include "signoff.secretEnv" (list $ names),
names being secretKeys fields (an empty list means all of them); unnamed keys are skipped.
*/}}
{{- define "signoff.secretEnv" -}}
{{- $root := index . 0 }}
{{- $only := index . 1 }}
{{- $variables := include "signoff.secretVariables" $root | fromYaml }}
{{- range $field, $variable := $variables }}
{{- $key := get $root.Values.secretKeys $field }}
{{- if and $key (or (empty $only) (has $field $only)) }}
- name: {{ $variable }}
  valueFrom:
    secretKeyRef:
      name: {{ $root.Values.existingSecret }}
      key: {{ $key }}
{{- end }}
{{- end }}
{{- end }}

{{/* The config as an env list (for hook Jobs). */}}
{{- define "signoff.configEnv" -}}
{{- range $name, $value := include "signoff.configData" . | fromYaml }}
- name: {{ $name }}
  value: {{ $value | toString | quote }}
{{- end }}
{{- end }}

{{- define "signoff.volumes" -}}
- name: tmp
  emptyDir:
    sizeLimit: {{ .Values.tmpSizeLimit }}
- name: data
  emptyDir:
    sizeLimit: {{ .Values.dataSizeLimit }}
{{- with .Values.extraVolumes }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{- define "signoff.volumeMounts" -}}
- name: tmp
  mountPath: /tmp
- name: data
  mountPath: {{ include "signoff.dataDir" . }}
{{- with .Values.extraVolumeMounts }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{/* Scrape annotations: include "signoff.scrapeAnnotations" (list port path) */}}
{{- define "signoff.scrapeAnnotations" -}}
prometheus.io/scrape: "true"
prometheus.io/port: {{ index . 0 | toString | quote }}
prometheus.io/path: {{ index . 1 | quote }}
{{- end }}
