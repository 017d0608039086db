package harness

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestExpandIsKubernetesVariableExpansion(t *testing.T) {
	env := map[string]string{"RATE": "0.3", "NAME": "shop"}
	for in, want := range map[string]string{
		"--error-rate=$(RATE)":    "--error-rate=0.3",
		"$(NAME)-$(RATE)":         "shop-0.3",
		"$(MISSING) stays":        "$(MISSING) stays",
		"$$(RATE) is escaped":     "$(RATE) is escaped",
		"a lone $ and $(RATE":     "a lone $ and $(RATE",
		"ends with $":             "ends with $",
		"no variables":            "no variables",
		"$$$(RATE) escape+expand": "$0.3 escape+expand",
	} {
		assert.Equal(t, want, expand(in, env), "expand(%q)", in)
	}
}
