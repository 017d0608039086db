package controllers

import (
	"time"

	trancheapi "github.com/tranche-dev/tranche/api/v1alpha1"
	"github.com/tranche-dev/tranche/providers"
)

// The types decide reads and returns: the world one reconcile observed, and the plan.

// world is what one reconcile observed: the only input of decide.
type world struct {
	now     time.Time
	rollout *trancheapi.Rollout // spec, requests (annotations) and the status as it was
	target  workload            // the user's Deployment: the version under test
	primary *workload           // the stable version; nil until it is created
	routes  providers.Routes    // what the data plane is told now
	// acceptance is the data plane's word on those routes: a split counts once it is taken.
	acceptance providers.Acceptance
	// declared is the replica count the target's owner gave it (see declaredReplicas), 0
	// when none is known; autoscaler, when set, holds the bounds of the HorizontalPodAutoscaler
	// that scales the target, and then declared is not used.
	declared   int32
	autoscaler *autoscaling
	// routesUnknown is true when the routing objects could not be read as a split (a person
	// edited them by hand, a rule was deleted): decide then sets the routes it wants.
	routesUnknown bool

	// Filled in only when decide asks for them (see need).
	analysis *analysisRun
	gates    map[trancheapi.WebhookType]gateAnswer
}

// workload is what decide needs to know of a Deployment.
type workload struct {
	revision   string // pod-template hash
	generation int64  // metadata.generation
	replicas   int32  // spec.replicas
	ready      bool   // every desired replica is updated and available
	// configured is true when the revision covers ConfigMaps or Secrets the pods read
	configured bool
	// annotations are the workload's, as read: not to be changed
	annotations map[string]string
}

// analysisRun is the result of one analysis run: a check per metric and per Rollout webhook.
type analysisRun struct {
	checks []trancheapi.CheckResult
}

// gateAnswer is what the webhooks of one gate type answered; open is true when all said yes.
type gateAnswer struct {
	open    bool
	message string
}

// plan is what decide chose: the status to write, at most one action, when to look again,
// and what to tell people.
type plan struct {
	status  trancheapi.RolloutStatus
	action  action
	need    need
	requeue time.Duration // 0: wait for a watch event
	events  []event
	// hooks are the notification webhooks (PostRollout, Rollback) to call after acting.
	hooks []trancheapi.WebhookType
	// stalled, when set, is why the rollout cannot go on until its user acts.
	stalled *problem
	// analysed is true when an analysis run was recorded.
	analysed bool
	// ended is the phase a rollout ended in during this decision (Succeeded, Failed,
	// Aborted), and took how long it lasted.
	ended trancheapi.Phase
	took  time.Duration
	// passed are the steps that passed in this decision: how long each held, by its index.
	passed []passedStep
}

// passedStep is a step that passed, and how long it held from the data plane taking its
// split: its hold and any wait for analysis.
type passedStep struct {
	index int32
	held  time.Duration
}

// need asks the reconciler for something decide cannot observe cheaply; the reconciler
// fetches it and calls decide again.
type need struct {
	analysis bool
	gate     trancheapi.WebhookType
}

func (n need) any() bool { return n.analysis || n.gate != "" }

// actionKind is the one change to the world a reconcile makes.
type actionKind int

const (
	actNone          actionKind = iota
	actCreatePrimary            // create <target>-primary from the target's pod template
	actUpdatePrimary            // copy the target's pod template to the primary
	actScaleTarget              // set the target's replicas
	actScalePrimary             // set the primary's replicas
	actSetRoutes                // tell the data plane a new split
)

type action struct {
	kind     actionKind
	replicas int32
	routes   providers.Routes
}

type event struct {
	warning bool
	reason  string
	message string
}
