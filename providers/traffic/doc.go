// Package traffic holds the words the controller and the providers share about a split: the
// Routes the data plane is told (weights, header matches, mirroring, session affinity) and
// the data plane's Acceptance of them. It is a leaf of plain values and comparisons, with no
// I/O, so that the planner, which must stay pure, can speak them without importing the
// providers that write them.
package traffic
