package v1alpha1_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"k8s.io/utils/ptr"

	trancheapi "github.com/tranche-dev/tranche/api/v1alpha1"
)

func TestStepSendsAllToCanary(t *testing.T) {
	for _, tc := range []struct {
		step trancheapi.Step
		all  bool
	}{
		{trancheapi.Step{Weight: ptr.To[int32](100)}, true},
		{trancheapi.Step{Weight: ptr.To[int32](50)}, false},
		{trancheapi.Step{Weight: ptr.To[int32](0), Mirror: ptr.To[int32](100)}, false},
		{trancheapi.Step{Match: []trancheapi.HTTPMatch{{}}}, false},
	} {
		assert.Equal(t, tc.all, tc.step.SendsAllToCanary(), tc.step.Label())
	}
}
