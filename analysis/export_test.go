package analysis

// PrimaryPast is primaryPast, for the tests of package analysis_test that read it from the
// real Prometheus.
var PrimaryPast = primaryPast
