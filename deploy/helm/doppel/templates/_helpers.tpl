{{- define "doppel.fullname" -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "doppel.labels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{- define "doppel.tag" -}}
{{- default .Chart.AppVersion .Values.image.tag -}}
{{- end -}}

{{- define "doppel.secretName" -}}
{{- default (printf "%s-github" (include "doppel.fullname" .)) .Values.github.existingSecret -}}
{{- end -}}

{{- define "doppel.redisUrl" -}}
{{- if .Values.redis.enabled -}}
redis://{{ include "doppel.fullname" . }}-redis:6379/0
{{- else -}}
{{- required "redis.externalUrl is required when redis.enabled is false" .Values.redis.externalUrl -}}
{{- end -}}
{{- end -}}

{{- define "doppel.qdrantUrl" -}}
{{- if .Values.qdrant.enabled -}}
http://{{ .Release.Name }}-qdrant:6333
{{- else -}}
{{- required "qdrant.externalUrl is required when qdrant.enabled is false" .Values.qdrant.externalUrl -}}
{{- end -}}
{{- end -}}

{{/* Environment shared by every doppel container. */}}
{{- define "doppel.env" -}}
- name: DOPPEL_REDIS_URL
  value: {{ include "doppel.redisUrl" . | quote }}
- name: DOPPEL_QDRANT_URL
  value: {{ include "doppel.qdrantUrl" . | quote }}
- name: DOPPEL_QDRANT_API_KEY
  valueFrom: { secretKeyRef: { name: {{ include "doppel.secretName" . }}, key: qdrant-api-key, optional: true } }
- name: DOPPEL_GITHUB_WEBHOOK_SECRET
  valueFrom: { secretKeyRef: { name: {{ include "doppel.secretName" . }}, key: webhook-secret } }
- name: DOPPEL_GITHUB_TOKEN
  valueFrom: { secretKeyRef: { name: {{ include "doppel.secretName" . }}, key: token, optional: true } }
- name: DOPPEL_GITHUB_APP_ID
  value: {{ .Values.github.appId | quote }}
- name: DOPPEL_GITHUB_PRIVATE_KEY_PATH
  value: /etc/doppel/github/private-key.pem
- name: DOPPEL_GITHUB_API_URL
  value: {{ .Values.github.apiUrl | quote }}
- name: DOPPEL_BOT_LOGIN
  value: {{ .Values.github.botLogin | quote }}
- name: DOPPEL_DATA_DIR
  value: /data
- name: DOPPEL_REPOS_DIR
  value: /data/repos
{{- range $name, $value := .Values.settings }}
- name: {{ $name }}
  value: {{ $value | quote }}
{{- end }}
{{- end -}}

{{- define "doppel.githubKeyVolume" -}}
- name: github-key
  secret:
    secretName: {{ include "doppel.secretName" . }}
    items: [{ key: private-key.pem, path: private-key.pem }]
    optional: true
{{- end -}}
