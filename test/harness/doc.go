// Package harness starts the real components Tranche's tests run against: a kube-apiserver
// and etcd (through controller-runtime's envtest) with Tranche's CRDs installed, and, in
// later suites, Prometheus, a data plane and demo applications.
//
// A test package starts one control plane in TestMain and shares it; each test isolates
// itself in a namespace of its own (see ControlPlane.Namespace).
package harness
