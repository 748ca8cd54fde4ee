{{/* Base name of the chart's objects: RELEASE-fleetscale, or RELEASE when it contains the chart name. */}}
{{- define "fleetscale.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{- define "fleetscale.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* The controller's Deployment, ClusterRole, Role and their bindings. */}}
{{- define "fleetscale.controllerName" -}}
{{- printf "%s-controller" (include "fleetscale.fullname" .) | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* One shard's Deployment (and PodDisruptionBudget): the controller's name, suffixed with the
shard's name when shards are set. Takes (dict "shard" $shard "root" $). */}}
{{- define "fleetscale.shardName" -}}
{{- if .shard.name -}}
{{- printf "%s-%s" (include "fleetscale.controllerName" .root) .shard.name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- include "fleetscale.controllerName" .root -}}
{{- end -}}
{{- end -}}

{{/* One shard's own flags (docs/sharding.md): its selector, its Lease, and whether it writes
MemberCluster status (the first shard unless one says manageMemberClusters: true).
Takes (dict "shard" $shard "index" $i "root" $). */}}
{{- define "fleetscale.shardArgs" -}}
{{- $explicit := false }}
{{- range .root.Values.shards }}{{ if .manageMemberClusters }}{{ $explicit = true }}{{ end }}{{ end }}
{{- $manage := ternary (eq .index 0) (.shard.manageMemberClusters | default false) (not $explicit) }}
- --watch-label-selector={{ required "every entry of shards needs a selector" .shard.selector }}
- --leader-election-id={{ printf "fleetscale-controller-%s.keda.kedify.io" .shard.name }}
- --manage-member-clusters={{ $manage }}
{{- end -}}

{{/* The KEDA scalers adapter's Deployment, Service and ServiceAccount. */}}
{{- define "fleetscale.kedaScalersName" -}}
{{- printf "%s-keda-scalers" (include "fleetscale.fullname" .) | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "fleetscale.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "fleetscale.controllerName" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- required "serviceAccount.name is required when serviceAccount.create is false" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{/* Where MemberClusters, their Secrets and the leader-election Lease live (--namespace). */}}
{{- define "fleetscale.memberClusterNamespace" -}}
{{- default .Release.Namespace .Values.memberClusterNamespace -}}
{{- end -}}

{{/* The address the controller dials for trigger types it does not implement. */}}
{{- define "fleetscale.externalScalerAddress" -}}
{{- printf "%s:%d" (include "fleetscale.externalScalerServerName" .) (int .Values.kedaScalers.port) -}}
{{- end -}}

{{/* The adapter's DNS name, which its server certificate holds. */}}
{{- define "fleetscale.externalScalerServerName" -}}
{{- printf "%s.%s.svc" (include "fleetscale.kedaScalersName" .) .Release.Namespace -}}
{{- end -}}

{{/* The Secret with the adapter's server certificate (tls.crt, tls.key, ca.crt). */}}
{{- define "fleetscale.kedaScalersServerSecret" -}}
{{- default (printf "%s-tls" (include "fleetscale.kedaScalersName" .)) .Values.kedaScalers.tls.serverSecretName -}}
{{- end -}}

{{/* The Secret with the controller's client certificate for the adapter (tls.crt, tls.key, ca.crt). */}}
{{- define "fleetscale.kedaScalersClientSecret" -}}
{{- default (printf "%s-client-tls" (include "fleetscale.kedaScalersName" .)) .Values.kedaScalers.tls.clientSecretName -}}
{{- end -}}

{{/* An image reference: repository@digest, or repository:tag with the appVersion as default tag. Takes (dict "image" .Values.x.image "root" $). */}}
{{- define "fleetscale.image" -}}
{{- if .image.digest -}}
{{- printf "%s@%s" .image.repository .image.digest -}}
{{- else -}}
{{- printf "%s:%s" .image.repository (default .root.Chart.AppVersion .image.tag) -}}
{{- end -}}
{{- end -}}

{{- define "fleetscale.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
app.kubernetes.io/name: {{ include "fleetscale.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: fleetscale
{{- end -}}

{{/* Selector labels of one component: takes (dict "component" "controller" "root" $). */}}
{{- define "fleetscale.selectorLabels" -}}
app.kubernetes.io/name: {{ include "fleetscale.name" .root }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{- define "fleetscale.controllerLabels" -}}
{{ include "fleetscale.labels" . }}
app.kubernetes.io/component: controller
{{- end -}}

{{- define "fleetscale.controllerSelectorLabels" -}}
{{ include "fleetscale.selectorLabels" (dict "component" "controller" "root" .) }}
{{- end -}}

{{- define "fleetscale.kedaScalersLabels" -}}
{{ include "fleetscale.labels" . }}
app.kubernetes.io/component: keda-scalers
{{- end -}}

{{- define "fleetscale.kedaScalersSelectorLabels" -}}
{{ include "fleetscale.selectorLabels" (dict "component" "keda-scalers" "root" .) }}
{{- end -}}

{{/* The controller's command line (a YAML list), from the values. */}}
{{- define "fleetscale.controllerArgs" -}}
- --namespace={{ include "fleetscale.memberClusterNamespace" . }}
{{- if .Values.leaderElection.enabled }}
- --leader-elect
{{- end }}
- --metrics-bind-address=:8080
{{- if .Values.metrics.secure }}
- --metrics-secure
{{- if .Values.metrics.certSecretName }}
- --metrics-cert-dir=/etc/fleetscale/metrics-certs
{{- end }}
{{- end }}
- --health-probe-bind-address=:8081
- --member-probe-interval={{ .Values.memberProbe.interval }}
- --member-probe-timeout={{ .Values.memberProbe.timeout }}
- --member-call-timeout={{ .Values.memberCallTimeout }}
- --member-qps={{ .Values.memberClient.qps }}
- --member-burst={{ .Values.memberClient.burst }}
- --hpa-sync-period={{ .Values.hpaSyncPeriod }}
- --max-jobs-per-evaluation={{ .Values.maxJobsPerEvaluation }}
- --concurrent-reconciles={{ .Values.concurrentReconciles }}
- --zap-log-level={{ .Values.logLevel }}
{{- if .Values.kedaScalers.enabled }}
- --external-scaler-address={{ include "fleetscale.externalScalerAddress" . }}
- --external-scaler-ca-file=/var/run/fleetscale/keda-scalers/ca.crt
- --external-scaler-cert-file=/var/run/fleetscale/keda-scalers/tls.crt
- --external-scaler-key-file=/var/run/fleetscale/keda-scalers/tls.key
- --external-scaler-server-name={{ include "fleetscale.externalScalerServerName" . }}
{{- end }}
{{- with .Values.extraArgs }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{/* The metrics port's name says its protocol (service meshes read it). */}}
{{- define "fleetscale.metricsPortName" -}}
{{- if .Values.metrics.secure -}}https-metrics{{- else -}}http-metrics{{- end -}}
{{- end -}}
