package v1alpha1

import metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

// Provider selects the service mesh or gateway that splits traffic, and carries the options
// only that provider understands. Exactly one field is set.
// +kubebuilder:validation:XValidation:rule="(has(self.gatewayAPI) ? 1 : 0) + (has(self.istio) ? 1 : 0) + (has(self.linkerd) ? 1 : 0) + (has(self.smi) ? 1 : 0) + (has(self.nginx) ? 1 : 0) + (has(self.traefik) ? 1 : 0) + (has(self.kubernetes) ? 1 : 0) == 1",message="set exactly one provider: gatewayAPI, istio, linkerd, smi, nginx, traefik or kubernetes"
type Provider struct {
	// gatewayAPI splits traffic with a Gateway API HTTPRoute.
	// +optional
	GatewayAPI *GatewayAPIProvider `json:"gatewayAPI,omitempty"`

	// istio splits traffic with an Istio VirtualService and DestinationRule.
	// +optional
	Istio *IstioProvider `json:"istio,omitempty"`

	// linkerd splits traffic in the Linkerd mesh.
	// +optional
	Linkerd *LinkerdProvider `json:"linkerd,omitempty"`

	// smi splits traffic with an SMI TrafficSplit.
	// +optional
	SMI *SMIProvider `json:"smi,omitempty"`

	// nginx splits traffic with a canary Ingress for ingress-nginx.
	// +optional
	NGINX *NGINXProvider `json:"nginx,omitempty"`

	// traefik splits traffic with a weighted TraefikService.
	// +optional
	Traefik *TraefikProvider `json:"traefik,omitempty"`

	// kubernetes switches all traffic at once by pointing the Service <name> at the primary
	// or the canary (blue/green). Step weights must be 0 or 100.
	// +optional
	Kubernetes *KubernetesProvider `json:"kubernetes,omitempty"`
}

// GatewayAPIProvider routes with an HTTPRoute (gateway.networking.k8s.io/v1) that Tranche
// creates under the Rollout's name. Rules, matches and filters a user adds to that route are
// kept; Tranche edits only the backendRefs that point at its Services.
type GatewayAPIProvider struct {
	// parentRefs are the Gateways (or, for mesh traffic, the Service) the route attaches to.
	// +required
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:MaxItems=16
	ParentRefs []ParentReference `json:"parentRefs"`

	// hostnames the route answers for. Default: every hostname of the parents.
	// +optional
	// +kubebuilder:validation:MaxItems=16
	// +kubebuilder:validation:items:MaxLength=253
	// +kubebuilder:validation:items:Pattern=`^(\*\.)?[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$`
	Hostnames []string `json:"hostnames,omitempty"`

	// timeouts of the requests Tranche's rules serve, for both versions. Without it, the
	// timeouts you set on Tranche's rule of the route are kept.
	// +optional
	Timeouts *GatewayAPITimeouts `json:"timeouts,omitempty"`
}

// GatewayAPITimeouts are Gateway API's HTTPRouteTimeouts, with the same meanings.
// +kubebuilder:validation:XValidation:rule="!has(self.request) || !has(self.backendRequest) || duration(self.backendRequest) <= duration(self.request)",message="timeouts.backendRequest must not be longer than timeouts.request"
type GatewayAPITimeouts struct {
	// request is how long the gateway waits for a request to be answered, retries included.
	// +optional
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:MaxLength=32
	// +kubebuilder:validation:Pattern=`^([0-9]+(\.[0-9]+)?(ms|s|m|h))+$`
	// +kubebuilder:validation:XValidation:rule="duration(self) >= duration('1ms')",message="timeouts.request must be at least 1ms"
	Request *metav1.Duration `json:"request,omitempty"`

	// backendRequest is how long one request to a backend may take.
	// +optional
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:MaxLength=32
	// +kubebuilder:validation:Pattern=`^([0-9]+(\.[0-9]+)?(ms|s|m|h))+$`
	// +kubebuilder:validation:XValidation:rule="duration(self) >= duration('1ms')",message="timeouts.backendRequest must be at least 1ms"
	BackendRequest *metav1.Duration `json:"backendRequest,omitempty"`
}

// ParentReference names a Gateway API parent: a Gateway, or a Service in mesh mode (GAMMA).
// +kubebuilder:validation:XValidation:rule="!has(self.group) || (size(self.group) == 0 ? self.kind == 'Service' : self.kind == 'Gateway')",message="group is gateway.networking.k8s.io for a Gateway and \"\" for a Service; or leave it out"
type ParentReference struct {
	// group of the parent. Default: gateway.networking.k8s.io for a Gateway, "" for a Service.
	// +optional
	// +kubebuilder:validation:Enum=gateway.networking.k8s.io;""
	Group *string `json:"group,omitempty"`

	// kind of the parent: Gateway or Service. Default: Gateway.
	// +optional
	// +kubebuilder:default=Gateway
	// +kubebuilder:validation:Enum=Gateway;Service
	Kind *string `json:"kind,omitempty"`

	// name of the parent.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	Name string `json:"name"`

	// namespace of the parent. Default: the Rollout's namespace.
	// +optional
	// +kubebuilder:validation:MaxLength=63
	Namespace *string `json:"namespace,omitempty"`

	// sectionName is the listener of the Gateway to attach to. Default: all of them.
	// +optional
	// +kubebuilder:validation:MaxLength=253
	SectionName *string `json:"sectionName,omitempty"`

	// port of the parent to attach to. Default: all of them.
	// +optional
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=65535
	Port *int32 `json:"port,omitempty"`
}

// IstioProvider routes with a VirtualService named after the Rollout, which splits its hosts
// between the Services <name>-primary and <name>-canary, and DestinationRules
// <rollout>-primary and <rollout>-canary for those Services. Mutual TLS, circuit breaking,
// retries and timeouts are Istio's: Tranche passes them through to both versions.
// +kubebuilder:validation:XValidation:rule="!has(self.hosts) || !('*' in self.hosts) || (has(self.gateways) && size(self.gateways) > 0 && !('mesh' in self.gateways))",message="istio.hosts: * is refused by istiod for routes of the mesh (gateways empty or mesh): name the hosts"
type IstioProvider struct {
	// gateways the VirtualService is bound to, as <namespace>/<name> or the reserved word
	// mesh. Default: mesh (east-west traffic inside the mesh).
	// +optional
	// +kubebuilder:validation:MaxItems=16
	// +kubebuilder:validation:items:MaxLength=253
	// +kubebuilder:validation:XValidation:rule="self.all(g, g.matches('^[a-zA-Z0-9]([-a-zA-Z0-9]{0,61}[a-zA-Z0-9])?/[a-zA-Z0-9]([-a-zA-Z0-9]{0,61}[a-zA-Z0-9])?$') || g.matches('^[a-zA-Z0-9]([-a-zA-Z0-9]{0,61}[a-zA-Z0-9])?([.][a-zA-Z0-9]([-a-zA-Z0-9]{0,61}[a-zA-Z0-9])?)*[.]?$'))",message="istio.gateways must be mesh, <namespace>/<name> or a gateway's host name, each part a DNS label"
	Gateways []string `json:"gateways,omitempty"`

	// hosts the VirtualService answers for. Default: the Service <name>.
	// +optional
	// +kubebuilder:validation:MaxItems=16
	// +kubebuilder:validation:items:MaxLength=253
	// +listType=set
	// +kubebuilder:validation:XValidation:rule="self.all(h, h.matches('^([*]|([*]|[*]-)?[a-zA-Z0-9]([-a-zA-Z0-9]{0,61}[a-zA-Z0-9])?)([.][a-zA-Z0-9]([-a-zA-Z0-9]{0,61}[a-zA-Z0-9])?)*[.]?$') && (!h.matches('^.*[.][0-9]+[.]?$') || h.matches('^[0-9]{1,3}([.][0-9]{1,3}){3}$')))",message="istio.hosts must be DNS names (a leading * allowed in the first label) or IPv4 addresses, and a name's last label not all digits"
	Hosts []string `json:"hosts,omitempty"`

	// trafficPolicy is applied to both DestinationRules, the primary's and the canary's.
	// +optional
	TrafficPolicy *IstioTrafficPolicy `json:"trafficPolicy,omitempty"`

	// retries of failed requests, set on every HTTP route Tranche writes.
	// +optional
	Retries *IstioRetries `json:"retries,omitempty"`

	// timeout of a request, set on every HTTP route Tranche writes. Default: Istio's (none).
	// +optional
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:MaxLength=32
	// +kubebuilder:validation:Pattern=`^([0-9]+(\.[0-9]+)?(ms|s|m|h))+$`
	// +kubebuilder:validation:XValidation:rule="self.matches('^([0-9]+h)?([0-9]+m)?([0-9]+([.][0-9]{1,3})?s)?([0-9]+ms)?$') && duration(self) >= duration('1ms')",message="istio.timeout must be at least 1ms, in whole milliseconds, written as hours, minutes, seconds (at most 3 decimals) and milliseconds in that order, such as 1m30s or 1.5s (istiod refuses finer durations)"
	Timeout *metav1.Duration `json:"timeout,omitempty"`
}

// IstioTrafficPolicy is the subset of Istio's DestinationRule traffic policy Tranche passes
// through. Field names follow Istio's.
type IstioTrafficPolicy struct {
	// tls between the sidecars; mode ISTIO_MUTUAL is mutual TLS.
	// +optional
	TLS *IstioTLS `json:"tls,omitempty"`

	// outlierDetection ejects failing endpoints (circuit breaking).
	// +optional
	OutlierDetection *IstioOutlierDetection `json:"outlierDetection,omitempty"`

	// connectionPool limits connections and requests (circuit breaking).
	// +optional
	ConnectionPool *IstioConnectionPool `json:"connectionPool,omitempty"`
}

// IstioTLS is the TLS mode of a DestinationRule.
type IstioTLS struct {
	// mode: DISABLE, SIMPLE, MUTUAL or ISTIO_MUTUAL.
	// +required
	// +kubebuilder:validation:Enum=DISABLE;SIMPLE;MUTUAL;ISTIO_MUTUAL
	Mode string `json:"mode"`
}

// IstioOutlierDetection mirrors Istio's OutlierDetection.
type IstioOutlierDetection struct {
	// consecutive5xxErrors before an endpoint is ejected.
	// +optional
	// +kubebuilder:validation:Minimum=0
	Consecutive5xxErrors *int32 `json:"consecutive5xxErrors,omitempty"`

	// interval between ejection sweeps.
	// +optional
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:MaxLength=32
	// +kubebuilder:validation:Pattern=`^([0-9]+(\.[0-9]+)?(ms|s|m|h))+$`
	// +kubebuilder:validation:XValidation:rule="self.matches('^([0-9]+h)?([0-9]+m)?([0-9]+([.][0-9]{1,3})?s)?([0-9]+ms)?$') && duration(self) >= duration('1ms')",message="outlierDetection.interval must be at least 1ms, in whole milliseconds, written as hours, minutes, seconds (at most 3 decimals) and milliseconds in that order, such as 1m30s or 1.5s (istiod refuses finer durations)"
	Interval *metav1.Duration `json:"interval,omitempty"`

	// baseEjectionTime is the minimum time an endpoint stays ejected.
	// +optional
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:MaxLength=32
	// +kubebuilder:validation:Pattern=`^([0-9]+(\.[0-9]+)?(ms|s|m|h))+$`
	// +kubebuilder:validation:XValidation:rule="self.matches('^([0-9]+h)?([0-9]+m)?([0-9]+([.][0-9]{1,3})?s)?([0-9]+ms)?$') && duration(self) >= duration('1ms')",message="outlierDetection.baseEjectionTime must be at least 1ms, in whole milliseconds, written as hours, minutes, seconds (at most 3 decimals) and milliseconds in that order, such as 1m30s or 1.5s (istiod refuses finer durations)"
	BaseEjectionTime *metav1.Duration `json:"baseEjectionTime,omitempty"`

	// maxEjectionPercent of the endpoints that may be ejected at once.
	// +optional
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=100
	MaxEjectionPercent *int32 `json:"maxEjectionPercent,omitempty"`
}

// IstioConnectionPool mirrors the limits of Istio's ConnectionPoolSettings.
type IstioConnectionPool struct {
	// maxConnections to an endpoint (TCP).
	// +optional
	// +kubebuilder:validation:Minimum=1
	MaxConnections *int32 `json:"maxConnections,omitempty"`

	// http1MaxPendingRequests queued while waiting for a connection.
	// +optional
	// +kubebuilder:validation:Minimum=1
	HTTP1MaxPendingRequests *int32 `json:"http1MaxPendingRequests,omitempty"`

	// http2MaxRequests active at once.
	// +optional
	// +kubebuilder:validation:Minimum=1
	HTTP2MaxRequests *int32 `json:"http2MaxRequests,omitempty"`

	// maxRequestsPerConnection before a connection is closed; 0 means unlimited.
	// +optional
	// +kubebuilder:validation:Minimum=0
	MaxRequestsPerConnection *int32 `json:"maxRequestsPerConnection,omitempty"`
}

// IstioRetries mirrors Istio's HTTPRetry.
// +kubebuilder:validation:XValidation:rule="self.attempts > 0 || (!has(self.perTryTimeout) && (!has(self.retryOn) || size(self.retryOn) == 0))",message="retries.attempts 0 turns retries off, and istiod then refuses perTryTimeout and retryOn: leave them out or set attempts"
type IstioRetries struct {
	// attempts is how many times a failed request is retried, the first try not counted
	// (Istio's attempts; a gRPC client tries at most 5 times in all). 0 turns retries off.
	// +required
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=10
	Attempts int32 `json:"attempts"`

	// perTryTimeout is the timeout of each attempt.
	// +optional
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:MaxLength=32
	// +kubebuilder:validation:Pattern=`^([0-9]+(\.[0-9]+)?(ms|s|m|h))+$`
	// +kubebuilder:validation:XValidation:rule="self.matches('^([0-9]+h)?([0-9]+m)?([0-9]+([.][0-9]{1,3})?s)?([0-9]+ms)?$') && duration(self) >= duration('1ms')",message="retries.perTryTimeout must be at least 1ms, in whole milliseconds, written as hours, minutes, seconds (at most 3 decimals) and milliseconds in that order, such as 1m30s or 1.5s (istiod refuses finer durations)"
	PerTryTimeout *metav1.Duration `json:"perTryTimeout,omitempty"`

	// retryOn lists the conditions that trigger a retry, comma-separated, as Istio takes them:
	// Envoy's HTTP conditions (5xx, gateway-error, reset, reset-before-request,
	// connect-failure, retriable-4xx, refused-stream, retriable-status-codes,
	// retriable-headers, envoy-ratelimited, http3-post-connect-failure), gRPC's (cancelled,
	// deadline-exceeded, internal, resource-exhausted, unavailable) and HTTP status codes.
	// Proxyless gRPC clients honour only gRPC's conditions.
	// +optional
	// +kubebuilder:validation:MaxLength=256
	// +kubebuilder:validation:XValidation:rule="self.split(',').all(c, c in ['5xx', 'gateway-error', 'reset', 'reset-before-request', 'connect-failure', 'retriable-4xx', 'refused-stream', 'retriable-status-codes', 'retriable-headers', 'envoy-ratelimited', 'http3-post-connect-failure', 'cancelled', 'deadline-exceeded', 'internal', 'resource-exhausted', 'unavailable'] || c.matches('^(10[0-3]|20[0-8]|226|30[0-578]|4(0[0-9]|1[0-8]|2[1-689]|31|51)|50[0-8]|51[01])$'))",message="retries.retryOn must list, comma-separated and without spaces, conditions Istio knows (5xx, gateway-error, reset, reset-before-request, connect-failure, retriable-4xx, refused-stream, retriable-status-codes, retriable-headers, envoy-ratelimited, http3-post-connect-failure, cancelled, deadline-exceeded, internal, resource-exhausted, unavailable) or HTTP status codes"
	RetryOn string `json:"retryOn,omitempty"`
}

// LinkerdProvider routes inside the Linkerd mesh.
type LinkerdProvider struct {
	// mode is how Linkerd is told the split; the one mode is HTTPRoute (Gateway API attached
	// to the Service, Linkerd's native way, 2.14 and later). Clusters that split with
	// TrafficSplits through the linkerd-smi extension use the smi provider instead.
	// Default: HTTPRoute.
	// +optional
	// +kubebuilder:default=HTTPRoute
	// +kubebuilder:validation:Enum=HTTPRoute
	Mode string `json:"mode,omitempty"`
}

// SMIProvider routes with a TrafficSplit of whichever split.smi-spec.io version the
// cluster serves. It has no options.
type SMIProvider struct{}

// NGINXProvider routes with a canary Ingress beside the user's Ingress (ingress-nginx).
type NGINXProvider struct {
	// ingressRef names the user's Ingress that sends traffic to the Service <name>.
	// +required
	IngressRef LocalObjectReference `json:"ingressRef"`
}

// TraefikProvider routes with a weighted TraefikService named after the Rollout, which the
// user's IngressRoute refers to.
type TraefikProvider struct {
	// nativeLB has Traefik send requests to the primary and canary Services' ClusterIPs
	// rather than to their pods (Traefik's nativeLB), for a mesh that must see the Service's
	// address (Linkerd, say) or a cluster where Traefik cannot list endpoints.
	// +optional
	NativeLB bool `json:"nativeLB,omitempty"`
}

// KubernetesProvider does blue/green with plain Services. It has no options.
type KubernetesProvider struct{}
