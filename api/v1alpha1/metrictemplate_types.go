package v1alpha1

import metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

// MetricTemplate is a PromQL query, with the Prometheus server to send it to, that Rollouts
// refer to from spec.analysis.metrics[].templateRef.
//
// +kubebuilder:object:root=true
// +kubebuilder:resource:shortName=tmt,categories=tranche
// +kubebuilder:printcolumn:name="Prometheus",type=string,JSONPath=`.spec.prometheus.address`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type MetricTemplate struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// spec holds the query.
	// +required
	Spec MetricTemplateSpec `json:"spec"`
}

// MetricTemplateSpec is a query and where to send it.
type MetricTemplateSpec struct {
	// prometheus is the server to query. Default: the controller's --prometheus-address.
	// +optional
	Prometheus *PrometheusSource `json:"prometheus,omitempty"`

	// query is a PromQL expression that returns one number, written as a Go template. It
	// may use {{ .Rollout }}, {{ .Namespace }}, {{ .Target }}, {{ .Primary }}, {{ .Canary }}, {{ .Service }}
	// and {{ .Interval }} (a PromQL range such as 1m). Label values are escaped, so a name
	// cannot change the query.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=8192
	Query string `json:"query"`

	// totalQuery counts a workload's requests, for a Compare metric of kind ErrorRate whose
	// query counts its errors. A Compare metric's queries run once for each workload: they
	// select it with {{ .Workload }} (the Deployment) or {{ .WorkloadService }} (its
	// Service), and count over {{ .Window }}, the time since the step's split began.
	// +optional
	// +kubebuilder:validation:MaxLength=8192
	TotalQuery string `json:"totalQuery,omitempty"`
}

// PrometheusSource is how to reach a Prometheus server's HTTP API.
type PrometheusSource struct {
	// address is the base URL of the server, such as http://prometheus.monitoring:9090.
	// Default: the controller's --prometheus-address.
	// +optional
	// +kubebuilder:validation:MaxLength=2048
	// +kubebuilder:validation:XValidation:rule="isURL(self) && url(self).getScheme() in ['http', 'https'] && url(self).getHost() != ''",message="prometheus.address must be an absolute http or https URL"
	Address string `json:"address,omitempty"`

	// secretRef names a Secret in the template's namespace with the credentials: the key
	// token for a bearer token, or the keys username and password for basic auth.
	// +optional
	SecretRef *LocalObjectReference `json:"secretRef,omitempty"`

	// timeout of one query. Default: 5s.
	// +optional
	// +kubebuilder:default="5s"
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:MaxLength=32
	// +kubebuilder:validation:Pattern=`^([0-9]+(\.[0-9]+)?(ms|s|m|h))+$`
	// +kubebuilder:validation:XValidation:rule="duration(self) > duration('0s') && duration(self) <= duration('1m')",message="timeout must be between 0s (excluded) and 1m"
	Timeout *metav1.Duration `json:"timeout,omitempty"`

	// insecureSkipVerify turns off verification of the server's TLS certificate. Default: false.
	// +optional
	InsecureSkipVerify bool `json:"insecureSkipVerify,omitempty"`
}

// +kubebuilder:object:root=true

// MetricTemplateList is a list of MetricTemplates.
type MetricTemplateList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []MetricTemplate `json:"items"`
}
