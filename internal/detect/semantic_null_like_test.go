package detect

import (
	"testing"
)

func init() {
	addLookAlikes(ruleNullLike, func(t *testing.T) []lookAlike {
		return []lookAlike{{
			pattern: `an answer quoting "N/A" as the receipt shows it`,
			healthy: answerRun(map[string]any{"answer": `When no message is added, the gift message line of the receipt reads "N/A".`}),
			fault:   answerRun(map[string]any{"answer": "N/A"}),
		}}
	})
}

func TestNullLikeAndWhitespace(t *testing.T) {
	fs := semantic(textRun(j(`{"answer":" N/A ","owner":"undefined","tags":["ok","[object Object]"],"summary":" \n\t ","nbsp":"\u00a0\u200b"}`)))
	nl := byRule(fs, ruleNullLike)
	if len(nl) != 3 {
		t.Fatalf("want 3 null_like, got:\n%s", dump(fs))
	}
	expect(t, nl[0], 1, SeverityWarning, map[string]any{"field": "answer", "path": "$.answer", "value": "n/a"})
	expect(t, nl[2], 1, SeverityWarning, map[string]any{"field": "tags", "path": "$.tags[1]", "value": "[object object]"})
	ws := byRule(fs, ruleWhitespace)
	if len(ws) != 2 {
		t.Fatalf("want 2 whitespace, got:\n%s", dump(fs))
	}
	expect(t, ws[1], 1, SeverityWarning, map[string]any{"field": "summary", "path": "$.summary"})
	t.Run("clean", func(t *testing.T) {
		fs := semantic(textRun(j(`{"answer":"None of the plans allow refunds after 30 days.","note":"","nullable":null,"count":0,"flag":false,"nil_reason":"not applicable here"}`)))
		none(t, fs, ruleNullLike, ruleWhitespace)
	})
}
