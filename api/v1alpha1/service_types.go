package v1alpha1

import "k8s.io/apimachinery/pkg/util/intstr"

// ServiceSpec describes the Services Tranche creates in front of the workload.
type ServiceSpec struct {
	// port the Services expose.
	// +required
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=65535
	Port int32 `json:"port"`

	// targetPort is the container port, by number or name. Default: the value of port.
	// +optional
	// +kubebuilder:validation:XIntOrString
	TargetPort *intstr.IntOrString `json:"targetPort,omitempty"`

	// portName is the name of the Services' port. Default: http.
	// +optional
	// +kubebuilder:default="http"
	// +kubebuilder:validation:MaxLength=15
	// +kubebuilder:validation:Pattern=`^[a-z]([-a-z0-9]*[a-z0-9])?$`
	PortName string `json:"portName,omitempty"`

	// protocol is what the port speaks: HTTP (HTTP/1.1 or HTTP/2), GRPC, or TCP. With the
	// gatewayAPI provider (and linkerd's routes), a GRPC service is routed by a GRPCRoute,
	// whose A/B steps match on gRPC metadata (headers); a gRPC client carries no cookies and
	// sends no query parameters, and a GRPCRoute has no timeouts. A TCP service is routed by
	// a TCPRoute (Gateway API's experimental channel), by weight alone: its connections carry
	// nothing to match, and it has no request metrics built in. Default: HTTP.
	// +optional
	// +kubebuilder:default=HTTP
	Protocol ServiceProtocol `json:"protocol,omitempty"`
}

// ServiceProtocol is what a Service's port speaks.
// +kubebuilder:validation:Enum=HTTP;GRPC;TCP
type ServiceProtocol string

// The protocols a Rollout's Services can speak.
const (
	ProtocolHTTP ServiceProtocol = "HTTP"
	ProtocolGRPC ServiceProtocol = "GRPC"
	ProtocolTCP  ServiceProtocol = "TCP"
)

// GRPC reports whether the Services speak gRPC.
func (s ServiceSpec) GRPC() bool { return s.Protocol == ProtocolGRPC }

// TCP reports whether the Services carry bare TCP.
func (s ServiceSpec) TCP() bool { return s.Protocol == ProtocolTCP }
