package stacks

import (
	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudwatch"
	"github.com/aws/jsii-runtime-go"
)

// alarmSpec is one alarm of a stage: what it watches, when it fires, how it treats missing data. Compute's
// deployment alarms and observability's alarms are both specs; dashboards draw their threshold lines from them.
type alarmSpec struct {
	id, name, description string
	metric                awscloudwatch.IMetric
	threshold             float64
	comparison            awscloudwatch.ComparisonOperator
	periods               float64 // evaluation periods
	datapoints            float64 // breaching datapoints of those periods needed; 0 = all of them
	missing               awscloudwatch.TreatMissingData
}

// create makes the alarm, named h2o-<stage>-<name>.
func (s alarmSpec) create(stack awscdk.Stack, n Names) awscloudwatch.Alarm {
	props := &awscloudwatch.AlarmProps{
		AlarmName: jsii.String(n.Alarm(s.name)), AlarmDescription: jsii.String(s.description), Metric: s.metric,
		Threshold: jsii.Number(s.threshold), ComparisonOperator: s.comparison, EvaluationPeriods: jsii.Number(s.periods),
		TreatMissingData: s.missing,
	}
	if s.datapoints > 0 {
		props.DatapointsToAlarm = jsii.Number(s.datapoints)
	}
	return awscloudwatch.NewAlarm(stack, jsii.String(s.id), props)
}

// alarmSpecs are a layer's alarms, found by name for their thresholds.
type alarmSpecs []alarmSpec

// threshold is the threshold of the named alarm; a name not in the list is a programming error.
func (specs alarmSpecs) threshold(name string) float64 {
	for _, s := range specs {
		if s.name == name {
			return s.threshold
		}
	}
	panic("no alarm spec " + name)
}

// Comparison operators of the specs, short.
var (
	above       = awscloudwatch.ComparisonOperator_GREATER_THAN_THRESHOLD
	atLeast     = awscloudwatch.ComparisonOperator_GREATER_THAN_OR_EQUAL_TO_THRESHOLD
	below       = awscloudwatch.ComparisonOperator_LESS_THAN_THRESHOLD
	notBreached = awscloudwatch.TreatMissingData_NOT_BREACHING
	breached    = awscloudwatch.TreatMissingData_BREACHING
)
