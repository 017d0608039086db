{{/* The name of the release's objects: the release's name, with "tranche" unless it has it. */}}
{{- define "tranche.fullname" -}}
{{- if contains "tranche" .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-tranche" .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{/* The labels the pods are selected by: they never change across upgrades. */}}
{{- define "tranche.selectorLabels" -}}
app.kubernetes.io/name: tranche
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: manager
{{- end -}}

{{- define "tranche.labels" -}}
{{ include "tranche.selectorLabels" . }}
app.kubernetes.io/part-of: tranche
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{/* The dashboard's pods' labels, by which its Service selects them. */}}
{{- define "tranche.dashboardSelectorLabels" -}}
app.kubernetes.io/name: tranche
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: dashboard
{{- end -}}

{{- define "tranche.dashboardLabels" -}}
{{ include "tranche.dashboardSelectorLabels" . }}
app.kubernetes.io/part-of: tranche
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{- define "tranche.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "tranche.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- required "serviceAccount.name names the ServiceAccount to run as when serviceAccount.create is false" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{/* The image by digest when one is given, else by tag (the chart's appVersion by default). */}}
{{- define "tranche.image" -}}
{{- if .Values.image.digest -}}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest -}}
{{- else -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) -}}
{{- end -}}
{{- end -}}

{{/* The rules of a Role in files/, which make manifests copies from config/rbac. */}}
{{- define "tranche.rulesOf" -}}
{{- $role := .Files.Get .file | fromYaml -}}
{{- $rules := list -}}
{{- range $role.rules -}}
{{- if and (not $.copySecrets) (has "secrets" .resources) -}}
{{- /* Without copies of Secrets, the manager only reads them. */ -}}
{{- if ne (len .resources) 1 -}}
{{- fail "files/role.yaml grants Secrets in a rule with other resources: give Secrets a +kubebuilder:rbac marker of their own" -}}
{{- end -}}
{{- $rules = append $rules (set (deepCopy .) "verbs" (list "get")) -}}
{{- else -}}
{{- $rules = append $rules . -}}
{{- end -}}
{{- end -}}
{{- toYaml $rules -}}
{{- end -}}
