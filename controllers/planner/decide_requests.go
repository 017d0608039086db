package planner

import (
	"fmt"
	"strings"

	trancheapi "github.com/tranche-dev/tranche/api/v1alpha1"
	"github.com/tranche-dev/tranche/providers/traffic"
)

// handleRequests acts on new requests from people, in a fixed order; it returns true when
// one of them decided the reconcile. A request's token is recorded as handled only once the
// request has had its effect, or was refused with an event, so none is lost or used twice.
func (d *decider) handleRequests() bool {
	return d.retryRequest() || d.abortRequest() || d.undoRequest() || d.promoteRequest() || d.pauseRequest()
}

// retryRequest starts again the rollout of a revision that failed or was aborted.
func (d *decider) retryRequest() bool {
	token := newRequest(d.w.Rollout, trancheapi.AnnotationRetry, d.st.HandledRequests.Retry)
	if token == "" {
		return false
	}
	if d.st.Phase != trancheapi.PhaseFailed && d.st.Phase != trancheapi.PhaseAborted {
		d.st.HandledRequests.Retry = token
		d.emit(true, "RequestIgnored", "Retry ignored: the rollout has not failed")
		return false
	}
	d.start()
	if d.st.Phase == trancheapi.PhaseProgressing { // not held at the ConfirmRollout gate
		d.st.HandledRequests.Retry = token
		d.emit(false, "RetryRequested", fmt.Sprintf("Retrying revision %s", d.w.Target.Revision))
	}
	return true
}

// abortRequest rolls the canary back, while there is one to roll back: before the primary
// has been given its template.
func (d *decider) abortRequest() bool {
	token := newRequest(d.w.Rollout, trancheapi.AnnotationAbort, d.st.HandledRequests.Abort)
	if token == "" {
		return false
	}
	d.st.HandledRequests.Abort = token
	if !d.st.Phase.UnderWay() && !(d.st.Phase == trancheapi.PhasePromoting && d.w.Primary.Revision != d.st.CanaryRevision) {
		d.emit(true, "RequestIgnored", "Abort ignored: no rollout is under way")
		return false
	}
	d.rollback(trancheapi.PhaseAborted, "aborted on request")
	return true
}

// promoteRequest passes the manual gate a step waits at, or with "full:" skips the remaining
// steps. The approval is consumed by hold when the step moves on.
func (d *decider) promoteRequest() bool {
	token := newRequest(d.w.Rollout, trancheapi.AnnotationPromote, d.st.HandledRequests.Promote)
	switch {
	case token == "":
		return false
	case strings.HasPrefix(token, trancheapi.PromoteFullPrefix) && d.st.Phase.UnderWay() &&
		d.w.Target.Revision == d.st.CanaryRevision:
		d.st.HandledRequests.Promote = token
		d.emit(false, "PromotedOnRequest", fmt.Sprintf("Skipping the remaining steps of revision %s on request", d.st.CanaryRevision))
		d.st.Phase = trancheapi.PhasePromoting
		d.promote()
		return true
	case d.st.Phase == trancheapi.PhaseWaitingApproval:
		d.approvalToken = token
		return false
	}
	// A promote that found nothing to approve must not approve a later gate.
	d.st.HandledRequests.Promote = token
	d.emit(true, "RequestIgnored", "Promote ignored: the rollout is not waiting for approval")
	return false
}

// pauseRequest holds a rollout where it is while the paused annotation says so. A paused
// rollout still takes traffic off a canary that is not ready or was replaced.
func (d *decider) pauseRequest() bool {
	paused := d.w.Rollout.Annotations[trancheapi.AnnotationPaused] == "true"
	switch {
	case paused && d.st.Phase.UnderWay():
		if d.st.Phase != trancheapi.PhasePaused {
			d.emit(false, "Paused", "Paused on request")
		}
		d.st.Phase = trancheapi.PhasePaused
		d.st.StepStartedAt = nil // the hold starts again on resume
		d.say(fmt.Sprintf("Paused at step %d on request", d.st.CurrentStep+1))
		unsafe := !d.w.Target.Ready || d.w.Target.Revision != d.st.CanaryRevision
		if unsafe && !d.routesAre(traffic.Routes{}) {
			d.say(fmt.Sprintf("Paused at step %d on request; the canary is not ready or was replaced: all traffic goes to the primary", d.st.CurrentStep+1))
			d.setRoutes(traffic.Routes{})
		}
		return true
	case !paused && d.st.Phase == trancheapi.PhasePaused:
		d.emit(false, "Resumed", "Resumed on request")
		d.st.Phase = trancheapi.PhaseProgressing
	}
	return false
}

// approve consumes the pending approval of the step waiting for it.
func (d *decider) approve() bool {
	if d.approvalToken == "" {
		return false
	}
	d.st.HandledRequests.Promote = d.approvalToken
	d.emit(false, "Approved", fmt.Sprintf("Step %d approved on request", d.st.CurrentStep+1))
	return true
}

// newRequest returns the token of a request annotation when it differs from the one handled
// last, else "".
func newRequest(ro *trancheapi.Rollout, annotation, handled string) string {
	token := ro.Annotations[annotation]
	if token == "" || token == handled {
		return ""
	}
	return token
}
