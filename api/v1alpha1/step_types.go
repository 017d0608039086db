package v1alpha1

import metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

// Step is one stage of a rollout. One model covers every strategy:
//
//	canary:      [{weight: 5}, {weight: 50}, {weight: 100}]
//	blue/green:  [{weight: 0, hold: 5m}, {weight: 100}]
//	A/B testing: [{match: [{headers: [{name: x-canary, value: "true"}]}], hold: 10m}]
//	mirroring:   [{weight: 0, mirror: 100, hold: 5m}]
//
// +kubebuilder:validation:XValidation:rule="has(self.weight) || has(self.match) || has(self.mirror)",message="a step needs a weight, a match or a mirror"
// +kubebuilder:validation:XValidation:rule="!(has(self.weight) && has(self.match))",message="a step routes either by weight or by match, not both"
// +kubebuilder:validation:XValidation:rule="!has(self.mirror) || (!has(self.match) && (!has(self.weight) || self.weight == 0))",message="a mirror step only copies traffic: its weight must be 0 or unset, and it cannot have a match"
type Step struct {
	// weight is the percent of requests sent to the canary, 0 to 100.
	// +optional
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=100
	Weight *int32 `json:"weight,omitempty"`

	// match sends to the canary only the requests that match any of these (A/B testing);
	// every other request goes to the primary.
	// +optional
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:MaxItems=8
	Match []HTTPMatch `json:"match,omitempty"`

	// mirror is the percent of the primary's requests copied to the canary, 1 to 100. The
	// canary's answers to copies are discarded, so users never see them.
	// +optional
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=100
	Mirror *int32 `json:"mirror,omitempty"`

	// hold is how long the step must stay healthy before the rollout moves on. Default: one
	// analysis interval (or no wait at all without analysis).
	// +optional
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:MaxLength=32
	// +kubebuilder:validation:Pattern=`^([0-9]+(\.[0-9]+)?(ms|s|m|h))+$`
	// +kubebuilder:validation:XValidation:rule="duration(self) > duration('0s')",message="hold must be a positive duration such as 30s or 5m"
	Hold *metav1.Duration `json:"hold,omitempty"`

	// approval Manual makes the step wait, once its hold has passed, until a person
	// promotes the rollout (kubectl tranche promote). Default: Auto.
	// +optional
	// +kubebuilder:default=Auto
	Approval Approval `json:"approval,omitempty"`
}

// Approval says whether a step moves on by itself.
// +kubebuilder:validation:Enum=Auto;Manual
type Approval string

// The approval modes of a step.
const (
	ApprovalAuto   Approval = "Auto"
	ApprovalManual Approval = "Manual"
)

// HTTPMatch selects requests; all of its conditions must hold.
// +kubebuilder:validation:XValidation:rule="has(self.headers) || has(self.cookies) || has(self.queryParams) || has(self.grpcMethod)",message="a match needs at least one of headers, cookies, queryParams or grpcMethod"
type HTTPMatch struct {
	// headers the request must carry.
	// +optional
	// +kubebuilder:validation:MaxItems=8
	Headers []StringMatch `json:"headers,omitempty"`

	// cookies the request must carry.
	// +optional
	// +kubebuilder:validation:MaxItems=8
	Cookies []StringMatch `json:"cookies,omitempty"`

	// queryParams the request URL must carry.
	// +optional
	// +kubebuilder:validation:MaxItems=8
	QueryParams []StringMatch `json:"queryParams,omitempty"`

	// grpcMethod matches the gRPC calls of a service, or of one method, for a GRPC service
	// (spec.service.protocol GRPC) routed by a GRPCRoute.
	// +optional
	GRPCMethod *GRPCMethodMatch `json:"grpcMethod,omitempty"`
}

// GRPCMethodMatch names gRPC calls by their service and method, compared exactly: leave out
// method to match every method of the service, or service to match the method of any.
// +kubebuilder:validation:XValidation:rule="has(self.service) || has(self.method)",message="a grpcMethod match needs a service, a method or both"
type GRPCMethodMatch struct {
	// service is the gRPC service's full name, such as grpc.health.v1.Health.
	// +optional
	// +kubebuilder:validation:MaxLength=1024
	// +kubebuilder:validation:Pattern=`^(?i)\.?[a-z_][a-z_0-9]*(\.[a-z_][a-z_0-9]*)*$`
	Service string `json:"service,omitempty"`

	// method is the method's name, such as Check.
	// +optional
	// +kubebuilder:validation:MaxLength=1024
	// +kubebuilder:validation:Pattern=`^[A-Za-z_][A-Za-z_0-9]*$`
	Method string `json:"method,omitempty"`
}

// StringMatch matches one named value of a request. A regular expression must compile: the
// rule below fails to evaluate on one that does not, and the API server then refuses the
// Rollout with the parse error.
// +kubebuilder:validation:XValidation:rule="self.type != 'RegularExpression' || 'a'.findAll(self.value).size() >= 0",message="value must be a regular expression in RE2 syntax"
type StringMatch struct {
	// name of the header, cookie or query parameter.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=256
	// +kubebuilder:validation:Pattern=`^[A-Za-z0-9!#$%&'*+\-.^_|~]+$`
	Name string `json:"name"`

	// value to compare with.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=1024
	Value string `json:"value"`

	// type of comparison: Exact, Prefix or RegularExpression (RE2 syntax). Default: Exact.
	// +optional
	// +kubebuilder:default=Exact
	Type MatchType `json:"type,omitempty"`
}

// MatchType is how a StringMatch compares.
// +kubebuilder:validation:Enum=Exact;Prefix;RegularExpression
type MatchType string

// The comparisons of a StringMatch.
const (
	MatchExact             MatchType = "Exact"
	MatchPrefix            MatchType = "Prefix"
	MatchRegularExpression MatchType = "RegularExpression"
)
