{{/*
A pre-install,pre-upgrade hook Job running one signoff command. Hooks run before the release's
other resources exist on a first install, so the Job carries its settings as plain env (the
same map as the ConfigMap) and reads secrets from the existing Secret, and it does not use the
chart's ServiceAccount unless that one is not created by the chart.
include "signoff.hookJob" (dict "root" $ "name" "migrate" "args" (list "db" "upgrade")
  "weight" "-5" "secrets" (list "databaseUrl"))
*/}}
{{- define "signoff.hookJob" -}}
{{- $root := .root }}
{{- $migration := $root.Values.migration }}
apiVersion: batch/v1
kind: Job
metadata:
  name: {{ include "signoff.fullname" $root }}-{{ .name }}
  labels:
    {{- include "signoff.componentLabels" (list $root .name) | nindent 4 }}
  annotations:
    helm.sh/hook: pre-install,pre-upgrade
    helm.sh/hook-weight: {{ .weight | quote }}
    helm.sh/hook-delete-policy: before-hook-creation,hook-succeeded
spec:
  backoffLimit: {{ $migration.backoffLimit }}
  activeDeadlineSeconds: {{ $migration.activeDeadlineSeconds }}
  template:
    metadata:
      labels:
        {{- include "signoff.componentLabels" (list $root .name) | nindent 8 }}
      {{- with $migration.podAnnotations }}
      annotations:
        {{- toYaml . | nindent 8 }}
      {{- end }}
    spec:
      restartPolicy: Never
      {{- if $migration.serviceAccountName }}
      serviceAccountName: {{ $migration.serviceAccountName }}
      {{- else if not $root.Values.serviceAccount.create }}
      serviceAccountName: {{ include "signoff.serviceAccountName" $root }}
      {{- end }}
      automountServiceAccountToken: false
      {{- with $root.Values.imagePullSecrets }}
      imagePullSecrets:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      securityContext:
        {{- toYaml $root.Values.podSecurityContext | nindent 8 }}
      containers:
        - name: {{ .name }}
          image: {{ include "signoff.image" $root }}
          imagePullPolicy: {{ $root.Values.image.pullPolicy }}
          args: {{ toJson .args }}
          env:
            {{- with (include "signoff.configEnv" $root | trim) }}
            {{- . | nindent 12 }}
            {{- end }}
            {{- with (include "signoff.secretEnv" (list $root .secrets) | trim) }}
            {{- . | nindent 12 }}
            {{- end }}
          resources:
            {{- toYaml $migration.resources | nindent 12 }}
          securityContext:
            {{- toYaml $root.Values.securityContext | nindent 12 }}
          volumeMounts:
            {{- include "signoff.volumeMounts" $root | nindent 12 }}
      volumes:
        {{- include "signoff.volumes" $root | nindent 8 }}
      {{- with $root.Values.api.nodeSelector }}
      nodeSelector:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      {{- with $root.Values.api.tolerations }}
      tolerations:
        {{- toYaml . | nindent 8 }}
      {{- end }}
{{- end }}
