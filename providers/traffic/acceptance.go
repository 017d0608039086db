package traffic

import (
	"fmt"
)

// Acceptance is the data plane's word on the routing objects as they are now: whether it has
// taken them. Some data planes write it down (Gateway API implementations in a route's
// status.parents); for those that do not, a split counts once its objects read back.
type Acceptance struct {
	State AcceptanceState
	// Parent names whose word it is (a Gateway, a mesh's Service), and Reason and Message
	// are that parent's own, for Pending and Refused.
	Parent, Reason, Message string
}

// AcceptanceState is what the data plane says of the routing objects as they are now.
type AcceptanceState int

const (
	// Unreported: this data plane writes down nothing; what reads back is all there is.
	Unreported AcceptanceState = iota
	// Pending: a parent has not yet said anything of the objects as they are now.
	Pending
	// Accepted: every parent has taken them.
	Accepted
	// Refused: a parent refused them, or could not resolve what they send traffic to.
	Refused
)

// Taken reports whether the split the objects hold is known to be the data plane's: it said
// so, or it says nothing either way.
func (a Acceptance) Taken() bool { return a.State == Unreported || a.State == Accepted }

// String says what the data plane said, in the parent's words where it gave some.
func (a Acceptance) String() string {
	switch a.State {
	case Pending:
		s := fmt.Sprintf("%s has not yet taken the route as it is now", a.Parent)
		if a.Reason != "" {
			s += fmt.Sprintf(" (%s)", a.words())
		}
		return s
	case Refused:
		return fmt.Sprintf("%s refused the route: %s", a.Parent, a.words())
	case Accepted:
		return "every parent accepted the route"
	}
	return "the data plane reports nothing"
}

// words are the parent's reason, and its message if it gave one.
func (a Acceptance) words() string {
	if a.Message == "" {
		return a.Reason
	}
	return a.Reason + ": " + a.Message
}
