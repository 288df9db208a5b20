package agentrun

// Mastra (@mastra/otel-exporter) sends GenAI spans, recorded in
// testdata/sdks/mastra:
//
//	invoke_agent <agent>                 agent_run: mastra.agent_run.input / .output
//	  model_generation <model>           wrapper (isWrapperOp)
//	    agent_step <agent>               one turn, a wrapper: mastra.model_step.input / .output
//	      chat <model>                   the model call: gen_ai.output.messages, usage, finish reasons
//	        model_chunk <agent>          streamed chunks (calls of the chat step)
//	      execute_tool <tool>            gen_ai.tool.call.arguments / .result
//
// The chat span carries no input messages: the turn's messages are on its
// agent_step parent.
const mastraStepInput = "mastra.model_step.input"

// mastraInput gives a model-call step without input of its own the input of
// the Mastra turn around it.
func (b *traceBuild) mastraInput(s *Step, r *spanRec) {
	if r.op != opChat || r.parent < 0 {
		return
	}
	if v, ok := b.recs[r.parent].span.Attributes().Get(mastraStepInput); ok {
		s.HasInput, s.InputMalformed, s.Input, s.InputJSON = b.stateOf(v)
	}
}
