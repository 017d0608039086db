package planner

import (
	"time"

	trancheapi "github.com/tranche-dev/tranche/api/v1alpha1"
	"github.com/tranche-dev/tranche/providers/traffic"
)

// The types Decide reads and returns: the world one reconcile observed, and the plan.

// World is what one reconcile observed: the only input of Decide.
type World struct {
	Now     time.Time
	Rollout *trancheapi.Rollout // spec, requests (annotations) and the status as it was
	Target  Workload            // the user's Deployment: the version under test
	Primary *Workload           // the stable version; nil until it is created
	Routes  traffic.Routes      // what the data plane is told now
	// Acceptance is the data plane's word on those routes: a split counts once it is taken.
	Acceptance traffic.Acceptance
	// Declared is the replica count the target's owner gave it (see declaredReplicas), 0
	// when none is known; autoscaler, when set, holds the bounds of the HorizontalPodAutoscaler
	// that scales the target, and then Declared is not used.
	Declared   int32
	Autoscaler *Autoscaling
	// Group are the other members of the Rollout's group (spec.group), in name order.
	Group []Member
	// RoutesUnknown is true when the routing objects could not be read as a split (a person
	// edited them by hand, a rule was deleted): decide then sets the routes it wants.
	RoutesUnknown bool

	// Filled in only when Decide asks for them (see Need).
	Analysis *AnalysisRun
	Gates    map[trancheapi.WebhookType]GateAnswer
	Earlier  *Earlier
	// PrimaryAnalysis is the threshold metrics measured on the primary (see Need).
	PrimaryAnalysis *AnalysisRun
}

// Workload is what Decide needs to know of a Deployment.
type Workload struct {
	Revision   string // pod-template hash
	Generation int64  // metadata.generation
	Replicas   int32  // spec.replicas
	Ready      bool   // every desired replica is updated and available
	// ReadyReplicas counts the replicas of the current template that are ready
	ReadyReplicas int32
	// Configured is true when the revision covers ConfigMaps or Secrets the pods read
	Configured bool
	// Annotations are the workload's, as read: not to be changed
	Annotations map[string]string
}

// readyReplicas counts the workload's ready replicas: all it wants when it is Ready.
func (w Workload) readyReplicas() int32 {
	if w.Ready {
		return max(w.ReadyReplicas, w.Replicas)
	}
	return w.ReadyReplicas
}

// AnalysisRun is the result of one analysis run: a check per metric and per Rollout webhook.
type AnalysisRun struct {
	Checks []trancheapi.CheckResult
}

// GateAnswer is what the webhooks of one gate type answered; open is true when all said yes.
type GateAnswer struct {
	Open    bool
	Message string
}

// Plan is what decide chose: the status to write, at most one action, when to look again,
// and what to tell people.
type Plan struct {
	Status  trancheapi.RolloutStatus
	Action  Action
	Need    Need
	Requeue time.Duration // 0: wait for a watch event
	Events  []Event
	// Hooks are the notification webhooks (PostRollout, Rollback) to call after acting.
	Hooks []trancheapi.WebhookType
	// Stalled, when set, is why the rollout cannot go on until its user acts.
	Stalled *Problem
	// Analysed is true when an analysis run was recorded.
	Analysed bool
	// Ended is the phase a rollout Ended in during this decision (Succeeded, Failed,
	// Aborted), and took how long it lasted.
	Ended trancheapi.Phase
	Took  time.Duration
	// Passed are the steps that Passed in this decision: how long each held, by its index.
	Passed []PassedStep
}

// PassedStep is a step that passed, and how long it held from the data plane taking its
// split: its hold and any wait for analysis.
type PassedStep struct {
	Index int32
	Held  time.Duration
}

// Need asks the reconciler for something Decide cannot observe cheaply; the reconciler
// fetches it and calls decide again.
type Need struct {
	Analysis bool
	Gate     trancheapi.WebhookType
	// Earlier asks for the revision the primary ran before its current one (an undo).
	Earlier bool
	// PrimaryAnalysis asks for the threshold metrics measured on the primary (a paced
	// rollback watching the primary as it takes its traffic back).
	PrimaryAnalysis bool
}

func (n Need) Any() bool { return n.Analysis || n.Gate != "" || n.Earlier || n.PrimaryAnalysis }

// ActionKind is the one change to the world a reconcile makes.
type ActionKind int

const (
	NoAction       ActionKind = iota
	CreatePrimary             // create <target>-primary from the target's pod template
	UpdatePrimary             // copy the target's pod template to the primary
	ScaleTarget               // set the target's replicas
	ScalePrimary              // set the primary's replicas
	SetRoutes                 // tell the data plane a new split
	RestorePrimary            // put the primary's earlier template (of Action.Revision) back
)

type Action struct {
	Kind     ActionKind
	Replicas int32
	Routes   traffic.Routes
	Revision string
}

type Event struct {
	Warning bool
	Reason  string
	Message string
}

// Autoscaling is what Decide knows of the target's autoscaler: its name, minReplicas and
// maxReplicas.
type Autoscaling struct {
	Name     string
	Min, Max int32
	// Settled is true when the autoscaler is done with the target's count as it is now: it
	// read that count, the count is within its bounds, and it wants no other (or has no
	// metrics to want one from). The HPA controller reads a count and writes the one it wants
	// a moment later, and on a conflict it writes that one over whatever came between; so the
	// target is scaled to zero only while its autoscaler is settled, or that zero is undone.
	Settled bool
}

// Clamp brings n within the bounds.
func (a Autoscaling) Clamp(n int32) int32 { return min(max(n, a.Min), a.Max) }

// Problem is why a Rollout cannot go on, in words its user can act on. It is an error too,
// so that what finds one can return it as one.
type Problem struct {
	Reason  string
	Message string
	// Recheck, when set, is how soon to look again: for a problem no watched object's
	// change would announce the end of.
	Recheck time.Duration
}

func (p *Problem) Error() string { return p.Message }
