// Package harness starts the real components Tranche's tests run against: a kube-apiserver
// and etcd (through controller-runtime's envtest) with Tranche's CRDs installed; on request
// (Options.Workloads) the real kube-controller-manager and kube-scheduler with kwok playing
// the nodes' kubelets, so that Deployments, ReplicaSets, pods, Jobs, HPAs and EndpointSlices
// behave as in a cluster; a real Prometheus server (Debian's package, `make prometheus`) as a
// plain process on 127.0.0.1, with an in-process exporter whose request metrics tests set by
// hand; Traefik as the data plane; and the demo app's processes.
//
// A test package starts one control plane in TestMain and shares it; each test isolates
// itself in a namespace of its own (see ControlPlane.Namespace).
//
// Every suite that runs workloads (the controllers', plugin's, manager's and Argo CD suites,
// the chaos tests, the scale bench and the demo's stack) runs on Workloads; the stack adds
// PodApps, playing each pod's container, and ServiceProxy, playing kube-proxy.
//
// One part stays played where no data plane runs: a gatewayAPI split counts once the
// route's parents say in its status that they took it, and without Traefik nothing would.
// Options.AcceptRoutes then writes what a Gateway API implementation writes, every parent
// Accepted with its references resolved at each generation, for the suites that test the
// engine, the plugin and Argo CD, the chaos tests and the scale bench. What a real data plane
// says, refusals included, is tested through Traefik (test/e2e), where the acceptor is off.
package harness
