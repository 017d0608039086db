package istio

// For the tests of package istio_test: what the router writes, built in memory.
var (
	SetVirtualService  = setVirtualService
	SetDestinationRule = setDestinationRule
)
