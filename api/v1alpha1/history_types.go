package v1alpha1

import metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

// RolloutRecord is one rollout of a revision: its steps' windows and how it ended.
type RolloutRecord struct {
	// revision rolled out.
	Revision string `json:"revision"`
	// startedAt is when the rollout started.
	StartedAt metav1.MicroTime `json:"startedAt"`
	// endedAt is when it ended; unset while it is under way.
	// +optional
	EndedAt *metav1.MicroTime `json:"endedAt,omitempty"`
	// outcome is how it ended; unset while it is under way.
	// +optional
	Outcome RolloutOutcome `json:"outcome,omitempty"`
	// message is the status message it ended with.
	// +optional
	// +kubebuilder:validation:MaxLength=1024
	Message string `json:"message,omitempty"`
	// steps are the steps that held, in order: each from the data plane taking its split to
	// the step passing or the rollout ending.
	// +optional
	// +listType=atomic
	// +kubebuilder:validation:MaxItems=64
	Steps []StepRecord `json:"steps,omitempty"`
}

// RolloutOutcome is how a rollout ended.
// +kubebuilder:validation:Enum=Succeeded;Failed;Aborted;Replaced
type RolloutOutcome string

// The outcomes of a rollout: the three end phases, and Replaced when a newer revision
// arrived before it ended.
const (
	OutcomeSucceeded RolloutOutcome = "Succeeded"
	OutcomeFailed    RolloutOutcome = "Failed"
	OutcomeAborted   RolloutOutcome = "Aborted"
	OutcomeReplaced  RolloutOutcome = "Replaced"
)

// StepRecord is the window one step held in.
type StepRecord struct {
	// step is the step's index in spec.steps.
	Step int32 `json:"step"`
	// weight is the canary's percent of traffic in the step.
	// +optional
	Weight int32 `json:"weight"`
	// startedAt is when the data plane took the step's split.
	StartedAt metav1.MicroTime `json:"startedAt"`
	// endedAt is when the step passed, or the rollout ended.
	EndedAt metav1.MicroTime `json:"endedAt"`
}
