{{/*
Labels Helm adds to every object of the release, on top of the labels the
object has in config/default. The chart's tests ignore exactly these when they
compare the chart with config/default.
*/}}
{{- define "csi-driver-spiffe-operator.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
{{- end -}}

{{/*
The operator image: repository and digest, else repository and tag (default
the chart's appVersion).
*/}}
{{- define "csi-driver-spiffe-operator.image" -}}
{{- if .Values.image.digest -}}
{{ .Values.image.repository }}@{{ .Values.image.digest }}
{{- else -}}
{{ .Values.image.repository }}:{{ .Values.image.tag | default .Chart.AppVersion }}
{{- end -}}
{{- end -}}
