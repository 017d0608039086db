// Package harness starts the real components Tranche's tests run against: a kube-apiserver
// and etcd (through controller-runtime's envtest) with Tranche's CRDs installed; a real
// Prometheus server (Debian's package, `make prometheus`) as a plain process on 127.0.0.1,
// with an in-process exporter whose request metrics tests set by hand; and, in later
// suites, a data plane and demo applications.
//
// A test package starts one control plane in TestMain and shares it; each test isolates
// itself in a namespace of its own (see ControlPlane.Namespace).
package harness
