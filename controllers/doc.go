// Package controllers holds the Rollout reconciler.
//
// Reconcile observes the world (the target workload, the references, what the data plane is
// told), asks the planner (package planner, pure) for the next action, acts, and writes
// status once. It wires the domain packages (analysis, providers, notify) together and holds
// no domain logic of its own: no provider or metric backend special cases live here.
package controllers
