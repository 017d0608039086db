package cli

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/apimachinery/pkg/types"

	trancheapi "github.com/tranche-dev/tranche/api/v1alpha1"
	"github.com/tranche-dev/tranche/cli/lint"
	"github.com/tranche-dev/tranche/providers/registry"
)

func newLintCommand(o *Options) *cobra.Command {
	var files []string
	var prometheus string
	var backtest bool
	cmd := &cobra.Command{
		Use:   "lint -f FILE",
		Short: "Check Rollouts, MetricTemplates and NotificationProviders offline, as the API server and the controller would",
		Long: "Check Tranche objects without a cluster: against the CRD schemas and CEL rules as the API server does,\n" +
			"then what only the controller sees: a provider or built-in metric this version does not support, a query\n" +
			"that does not render. With --prometheus, every query also runs once there; with --backtest as well, each\n" +
			"Rollout's analysis is replayed over the past rollouts of the Rollout of its name in the cluster (see\n" +
			"kubectl tranche replay). Objects of other kinds are passed over. Exits 1 when an object has an error.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if len(files) == 0 {
				return fmt.Errorf("name the files to check with -f (- for standard input)")
			}
			var docs []lint.Document
			for _, file := range files {
				read, err := readDocuments(o, file)
				if err != nil {
					return err
				}
				docs = append(docs, read...)
			}
			schemas, err := lint.LoadSchemas()
			if err != nil {
				return err
			}
			ns, err := o.namespace()
			if err != nil {
				return err
			}
			findings := lint.Lint(cmd.Context(), schemas, docs, lint.Options{
				Providers: registry.Default(), Namespace: ns, Prometheus: prometheus, Now: time.Now(),
			})
			errors := 0
			for _, f := range findings {
				fmt.Fprintln(o.Streams.Out, f)
				if !f.Warning {
					errors++
				}
			}
			if backtest && errors == 0 {
				if err := o.backtest(cmd.Context(), docs, prometheus); err != nil {
					return err
				}
			}
			if errors > 0 {
				return fmt.Errorf("%d error(s) in %d object(s) read", errors, len(docs))
			}
			fmt.Fprintf(o.Streams.Out, "%d object(s) read, no errors\n", len(docs))
			return nil
		},
	}
	cmd.Flags().StringArrayVarP(&files, "filename", "f", nil, "File of objects to check (YAML or JSON; - for standard input). Repeat for more.")
	cmd.Flags().StringVar(&prometheus, "prometheus", "", "Prometheus URL: run every query once and report those that fail or return no data.")
	cmd.Flags().BoolVar(&backtest, "backtest", false, "With --prometheus: replay each Rollout's analysis over the past rollouts of the Rollout of its name in the cluster.")
	return cmd
}

// backtest replays the analysis of each Rollout in docs over the past rollouts of the live
// Rollout of the same name.
func (o *Options) backtest(ctx context.Context, docs []lint.Document, prometheus string) error {
	if prometheus == "" {
		return fmt.Errorf("--backtest needs --prometheus: the Prometheus that holds the past rollouts' data")
	}
	c, err := o.client()
	if err != nil {
		return err
	}
	now := time.Now()
	for _, doc := range docs {
		obj := doc.Object
		if obj.GroupVersionKind().Group != trancheapi.GroupVersion.Group || obj.GetKind() != "Rollout" {
			continue
		}
		key := types.NamespacedName{Namespace: obj.GetNamespace(), Name: obj.GetName()}
		fmt.Fprintln(o.Streams.Out)
		replayed, err := Replay(ctx, c, ReplayOptions{Rollout: key, Proposed: docs, Prometheus: prometheus, Now: now})
		if err != nil {
			fmt.Fprintf(o.Streams.Out, "%s: Rollout/%s: no backtest: %v\n", doc.Source, key.Name, err)
			continue
		}
		if err := RenderReplay(o.Streams.Out, replayed, now); err != nil {
			return err
		}
	}
	return nil
}

// readDocuments reads a file, standard input (-) or the YAML and JSON files of a folder.
func readDocuments(o *Options, file string) ([]lint.Document, error) {
	if file == "-" {
		return lint.Read("(stdin)", o.Streams.In)
	}
	if info, err := os.Stat(file); err == nil && info.IsDir() {
		var docs []lint.Document
		for _, pattern := range []string{"*.yaml", "*.yml", "*.json"} {
			matches, _ := filepath.Glob(filepath.Join(file, pattern))
			for _, match := range matches {
				read, err := readDocuments(o, match)
				if err != nil {
					return nil, err
				}
				docs = append(docs, read...)
			}
		}
		return docs, nil
	}
	f, err := os.Open(file)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return lint.Read(file, f)
}
