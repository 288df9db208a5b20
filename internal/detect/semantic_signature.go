package detect

import (
	"cmp"
	"fmt"
	"strconv"
)

const ruleSignatureMatch = "semantic.signature"

// signatureMatch: a text matches a user signature (Config.Signatures,
// loaded and compiled by signatures.go).
type signatureMatch struct{}

func init() {
	register(Rule{ID: ruleSignatureMatch, Layer: LayerSemantic, Severity: SeverityWarning,
		Description: "output text matches a user signature; a signature's own severity wins over this rule's"}, signatureMatch{})
}

func (signatureMatch) check(a *analysis) {
	sigs := signaturesFor(a.cfg.Signatures)
	if sigs == nil {
		return
	}
	a.eachText(ruleSignatureMatch, plainText, func(node string, t *textValue) {
		sigs.each(t.head, func(sig *compiledSignature) {
			msg := cmp.Or(sig.Message, "matched signature "+strconv.Quote(sig.ID))
			if k, ok := a.emitText(fmt.Sprintf("%s %s: %s", node, t.where(), msg),
				t.details("signature", sig.ID, "match", sig.Match)); ok && sig.Severity != "" {
				a.out[k].Severity = sig.Severity
			}
		})
	})
}
