{{/* The chart's name. */}}
{{- define "torii.name" -}}
{{- .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* The release's full name: the release name, with the chart's unless it is in it already. */}}
{{- define "torii.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{/* Labels of every object. */}}
{{- define "torii.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{ include "torii.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: torii
{{- end -}}

{{/* Labels that select the pods. */}}
{{- define "torii.selectorLabels" -}}
app.kubernetes.io/name: {{ include "torii.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "torii.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "torii.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{- define "torii.adminSecretName" -}}
{{- default (printf "%s-admin" (include "torii.fullname" .)) .Values.admin.token.existingSecret -}}
{{- end -}}

{{- define "torii.affinitySecretName" -}}
{{- default (printf "%s-affinity" (include "torii.fullname" .)) .Values.affinitySecret.existingSecret -}}
{{- end -}}

{{- define "torii.leaseName" -}}
{{- default (printf "%s-leader" (include "torii.fullname" .)) .Values.leaderElection.leaseName -}}
{{- end -}}

{{/* Whether a data-plane port is below 1024. */}}
{{- define "torii.lowPorts" -}}
{{- range .Values.service.ports -}}
{{- if lt (int (default .port .targetPort)) 1024 }}true{{ end -}}
{{- end -}}
{{- end -}}

{{/*
A value kept across upgrades: the given one, else the one already in the Secret (lookup sees
nothing under `helm template`), else `generated`.
*/}}
{{- define "torii.keptSecretValue" -}}
{{- $given := index . 0 -}}{{- $ctx := index . 1 -}}{{- $name := index . 2 -}}{{- $key := index . 3 -}}{{- $generated := index . 4 -}}
{{- if $given -}}
{{- $given | b64enc -}}
{{- else -}}
{{- $existing := lookup "v1" "Secret" $ctx.Release.Namespace $name -}}
{{- if and $existing (hasKey (default dict $existing.data) $key) -}}
{{- index $existing.data $key -}}
{{- else -}}
{{- $generated | b64enc -}}
{{- end -}}
{{- end -}}
{{- end -}}
