// Package stacks holds one file per layer of h2o-infra. Each layer is a struct embedding awscdk.Stack that
// exports the typed fields the next layer needs; H2oStage wires them together for one environment.
package stacks

import (
	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"

	"h2o-infra/config"
)

// H2oStage is one environment (dev, prod): the same stacks built from that stage's Config.
type H2oStage struct {
	awscdk.Stage
	Network *NetworkStack
	Data    *DataStack
	Compute *ComputeStack
	Edge    *EdgeStack
	// Observability watches every layer above it.
	Observability *ObservabilityStack
}

// NewH2oStage builds every layer of one stage. Stack names are h2o-<stage>-<layer>, so
// `cdk deploy 'dev/*'` selects one stage and stacks of both stages can share an account.
func NewH2oStage(scope constructs.Construct, cfg *config.Config) *H2oStage {
	stage := awscdk.NewStage(scope, jsii.String(cfg.Stage), &awscdk.StageProps{Env: env(cfg.Account, cfg.Region)})
	// Applied once here, so every taggable resource of every stack carries them (cost allocation tags).
	tagAll(stage, map[string]string{"Project": "h2o", "Stage": cfg.Stage, "ManagedBy": "cdk"})
	addNagChecks(stage)

	s := &H2oStage{Stage: stage}
	s.Network = NewNetworkStack(stage, cfg)
	s.Data = NewDataStack(stage, cfg, s.Network)
	s.Compute = NewComputeStack(stage, cfg, s.Network, s.Data)
	s.Edge = NewEdgeStack(stage, cfg, s.Compute)
	s.Observability = NewObservabilityStack(stage, cfg, s.Data, s.Compute, s.Edge)
	applyNistExceptions(stage, s, cfg) // last: it must see every resource, those the CDK adds late included
	return s
}

// Stacks lists the stage's stacks in deploy order.
func (s *H2oStage) Stacks() []awscdk.Stack {
	return []awscdk.Stack{s.Network.Stack, s.Data.Stack, s.Compute.Stack, s.Edge.Stack, s.Observability.Stack}
}
