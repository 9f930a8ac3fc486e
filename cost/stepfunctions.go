package cost

import (
	"encoding/json"
	"fmt"
	"strings"
)

// stepFunctions prices Standard workflows by state transition: StateMachineRuns executions a month of each
// state machine, one transition per state of its definition (an upper bound for a definition without loops;
// retries add one each), less the stage's share of the free transitions a month (step_functions_free_state_transitions_per_month).
func (e *estimator) stepFunctions() {
	var transitions float64
	var parts []string
	for _, sm := range e.claim("AWS::StepFunctions::StateMachine") {
		name := "Step Functions " + sm.Path()
		if strings.EqualFold(sm.Str("StateMachineType"), "EXPRESS") {
			e.unpriced(name, "Express workflows are billed per request and duration: no price in the price table")
			continue
		}
		states, err := definitionStates(sm)
		if err != "" {
			e.unpriced(name, err)
			continue
		}
		transitions += e.u.StateMachineRuns * float64(states)
		part := fmt.Sprintf("%s: %s runs (usage) × %s", sm.Path(), fmtNum(e.u.StateMachineRuns), plural(states, "state"))
		if on, _ := sm.Bool("TracingConfiguration.Enabled"); on {
			part += ", X-Ray tracing (" + e.tracesNote(e.u.StateMachineRuns) + ")"
		}
		parts = append(parts, part)
	}
	if len(parts) == 0 {
		return
	}
	item := fmt.Sprintf("Step Functions ×%d", len(parts))
	v, ok := e.priced(item, "", "step_functions_standard_usd_per_1k_state_transitions", "step_functions_free_state_transitions_per_month")
	if !ok {
		return
	}
	free := e.freeShare(v[1])
	billable := positive(transitions - free)
	e.add(item, fmt.Sprintf("(%s state transitions − %s free share) × $%s/1k [%s]", fmtNum(transitions),
		fmtCount(free), fmtNum(v[0]), strings.Join(parts, "; ")), billable/1000*v[0])
}

// tracesNote says what a state machine's X-Ray traces would cost at the price table's rate; they are not added.
func (e *estimator) tracesNote(traces float64) string {
	rate, ok := e.price("xray_traces_recorded_usd_per_million")
	switch {
	case !ok:
		return fmt.Sprintf("%s traces: not added", fmtNum(traces))
	case traces/1e6*rate < 0.001:
		return fmt.Sprintf("%s traces, under $0.001 at $%s/M: not added", fmtNum(traces), fmtNum(rate))
	}
	return fmt.Sprintf("%s traces × $%s/M = $%s: not added", fmtNum(traces), fmtNum(rate), fmtNum(round4(traces/1e6*rate)))
}

// definitionStates counts the states of a state machine's definition (DefinitionString, literal or an
// Fn::Join of literals and references), nested Parallel branches included. err says why it cannot.
func definitionStates(sm *Resource) (int, string) {
	text, ok := joinedLiteral(sm.Prop("DefinitionString"))
	if !ok {
		return 0, "the definition is not a literal DefinitionString"
	}
	var def any
	if json.Unmarshal([]byte(text), &def) != nil {
		return 0, "the definition is not readable JSON"
	}
	n, err := 0, ""
	var count func(v any)
	count = func(v any) {
		states, _ := dig(v, "States").(map[string]any)
		for _, s := range states {
			n++
			switch dig(s, "Type") {
			case "Map":
				err = "a Map state's transitions depend on its items: not priced"
			case "Parallel":
				for _, b := range asList(dig(s, "Branches")) {
					count(b)
				}
			}
		}
	}
	count(def)
	return n, err
}

// joinedLiteral renders a string, or an Fn::Join with an empty delimiter, with every reference as "x".
func joinedLiteral(v any) (string, bool) {
	if s, ok := v.(string); ok {
		return s, true
	}
	join, _ := dig(v, "Fn::Join").([]any)
	if len(join) != 2 || join[0] != "" {
		return "", false
	}
	var b strings.Builder
	for _, part := range asList(join[1]) {
		if s, ok := part.(string); ok {
			b.WriteString(s)
		} else {
			b.WriteString("x")
		}
	}
	return b.String(), true
}
