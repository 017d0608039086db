package v1alpha1

import "k8s.io/apimachinery/pkg/util/intstr"

// ServiceSpec describes the Services Tranche creates in front of the workload.
// +kubebuilder:validation:XValidation:rule="!has(self.ports) || self.ports.all(p, p.port != self.port)",fieldPath=".ports",message="each of ports needs a port number of its own, other than port's"
// +kubebuilder:validation:XValidation:rule="!has(self.ports) || self.ports.all(p, self.ports.exists_one(q, q.port == p.port))",fieldPath=".ports",message="two of ports have the same port number: give each its own"
// +kubebuilder:validation:XValidation:rule="!has(self.ports) || self.ports.all(p, p.name != (has(self.portName) ? self.portName : 'http'))",fieldPath=".ports",message="each of ports needs a name of its own, other than portName (default http)"
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
	// a TCPRoute (Gateway API's v1, standard since v1.6), by weight alone: its connections carry
	// nothing to match, and it has no request metrics built in. Default: HTTP.
	// +optional
	// +kubebuilder:default=HTTP
	Protocol ServiceProtocol `json:"protocol,omitempty"`

	// ports are the Services' other ports, beside port: an HTTP port and a TCP port of one
	// workload, say. Every port is split by the same weight at every step, and the primary
	// and canary Services carry them all. With the gatewayAPI provider each has a route of
	// its own, named <rollout>-<name>, of its protocol's kind, attached to the same parents:
	// there, ports holds one TCP port beside an HTTP or GRPC one (or the other way round), as
	// routes of one kind would attach to the same listeners and clash. A Rollout with ports
	// splits by weight alone (no A/B, mirror or sticky steps); built-in metrics read port's
	// route where the data plane counts by route. The gatewayAPI, smi and kubernetes
	// providers route several ports.
	// +optional
	// +listType=map
	// +listMapKey=name
	// +kubebuilder:validation:MaxItems=16
	Ports []ServicePort `json:"ports,omitempty"`
}

// ServicePort is one of the Services' other ports.
type ServicePort struct {
	// name of the port in the Services, and the suffix of its route's name.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=15
	// +kubebuilder:validation:Pattern=`^[a-z]([-a-z0-9]*[a-z0-9])?$`
	// +kubebuilder:validation:XValidation:rule="!self.contains('--')",message="a Service's port name has no two hyphens in a row"
	Name string `json:"name"`

	// port the Services expose.
	// +required
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=65535
	Port int32 `json:"port"`

	// targetPort is the container port, by number or name. Default: the value of port.
	// +optional
	// +kubebuilder:validation:XIntOrString
	TargetPort *intstr.IntOrString `json:"targetPort,omitempty"`

	// protocol is what the port speaks: HTTP, GRPC or TCP, as for spec.service.protocol.
	// Default: HTTP.
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

// AllPorts are the Services' ports: port first, then ports, with their defaults filled in
// (the API defaults them too; AllPorts does not rely on that, so it works on an undefaulted
// object).
func (s ServiceSpec) AllPorts() []ServicePort {
	main := ServicePort{Name: s.PortName, Port: s.Port, TargetPort: s.TargetPort, Protocol: s.Protocol}
	all := append([]ServicePort{main}, s.Ports...)
	for i := range all {
		if all[i].Name == "" {
			all[i].Name = DefaultPortName
		}
		if all[i].Protocol == "" {
			all[i].Protocol = ProtocolHTTP
		}
		if all[i].TargetPort == nil {
			all[i].TargetPort = ptrTo(intstr.FromInt32(all[i].Port))
		}
	}
	return all
}

// DefaultPortName is the Services' port name when spec.service.portName is empty.
const DefaultPortName = "http"
