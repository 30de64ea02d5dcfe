package agreements

import "slices"

// Basis is what a disclosure relies on in law: the lawful basis (an Art 6
// basis under UK GDPR, a s.35(2) condition under DPA 2018 Part 3), the
// special-category and criminal-offence conditions, and the exemption.
type Basis struct {
	LawfulBasis     string
	SpecialCategory []string
	CriminalOffence []string
	Exemption       string
}

// answerBases: where a request was made under one regime and the answer
// goes on a flow of the other, the lawful bases the answer may rely on for
// the basis the request cited, most fitting first. A police request under
// Part 3 for a task of a competent authority (s.35(2)(b)) is answered by a
// council performing its own public task or a legal obligation; and back.
// Consent (Art 6(1)(a), s.35(2)(a)) is given to one controller for one
// processing: it never carries over.
var answerBases = map[string][]string{
	"DPA-S35-2-b": {"A6-1-e", "A6-1-c"},
	"A6-1-e":      {"DPA-S35-2-b"},
	"A6-1-c":      {"DPA-S35-2-b"},
}

// answerSensitive maps a condition for sensitive processing under Part 3
// (DPA 2018 Sch 8) to the UK GDPR conditions that serve the same end (Art
// 9(2) with its DPA 2018 Sch 1 condition), and back. Consent (s.35(4),
// Art 9(2)(a)) never carries over.
var answerSensitive = map[string][]string{
	"DPA-S8-1": {"A9-2-g", "DPA-S1-P2-6"},
	"DPA-S8-2": {"A9-2-g", "DPA-S1-P2-7"},
	"DPA-S8-3": {"A9-2-c"},
	"DPA-S8-4": {"A9-2-g", "DPA-S1-P2-18"},
	"DPA-S8-6": {"A9-2-f"},
	"DPA-S8-8": {"A9-2-g", "DPA-S1-P2-14"},
}

// answerCriminal is the DPA 2018 Sch 1 condition that, with Art 10, meets
// the rules for criminal-offence data disclosed for a purpose.
var answerCriminal = map[string]string{
	"crime-prevention-detection": "DPA-S1-P2-10",
	"fraud-prevention-detection": "DPA-S1-P2-14",
	"safeguarding-child":         "DPA-S1-P2-18",
	"safeguarding-adult":         "DPA-S1-P2-18",
}

// AnswerBasis is what an answer to a request relies on where the answer
// declares nothing of its own: the answer is the handler's own disclosure,
// judged under its own flow's regime. Under the regime the request was made
// under (requestRegime), the request's basis carries over as it stands.
// Under the other, nothing of it carries over as such: the lawful basis is
// the first the answer flow permits among those answerBases gives for the
// request's; sensitive-processing conditions map through answerSensitive
// where the flow permits every code; criminal-offence data (UK GDPR only)
// takes A10 with the Sch 1 condition for the purpose where the flow permits
// both; and the Sch 2 exemption (UK GDPR only) is the flow's one exemption
// that serves the purpose. What does not map stays empty, so the decision
// names the check it fails.
func AnswerBasis(answer *Flow, requestRegime string, asked Basis, purpose string, categories []string) Basis {
	if requestRegime == "" {
		requestRegime = RegimeUKGDPR
	}
	if answer == nil || answer.RegimeOf() == requestRegime {
		return asked
	}
	var out Basis
	for _, b := range answerBases[asked.LawfulBasis] {
		if slices.Contains(answer.LawfulBases, b) {
			out.LawfulBasis = b
			break
		}
	}
	toPart3 := answer.RegimeOf() == RegimePart3
	for _, c := range asked.SpecialCategory {
		for _, m := range mappedSensitive(c, toPart3) {
			if !slices.Contains(out.SpecialCategory, m) && slices.Contains(answer.SpecialCategory, m) {
				out.SpecialCategory = append(out.SpecialCategory, m)
			}
		}
	}
	if toPart3 {
		return out // Art 10, Sch 1 and Sch 2 do not apply under Part 3
	}
	if sch1 := answerCriminal[purpose]; slices.Contains(categories, CategoryCriminalOffence) && sch1 != "" &&
		slices.Contains(answer.CriminalOffence, ConditionArticle10) && slices.Contains(answer.CriminalOffence, sch1) {
		out.CriminalOffence = []string{ConditionArticle10, sch1}
	}
	var serving []string
	for _, e := range answer.Exemptions {
		if ExemptionServes(e, purpose) {
			serving = append(serving, e)
		}
	}
	if len(serving) == 1 {
		out.Exemption = serving[0]
	}
	return out
}

// mappedSensitive is the set of codes a sensitive-processing condition maps
// to in the other regime: Sch 8 to Art 9 and Sch 1 (toPart3 false), or the
// Art 9 and Sch 1 pair's Sch 8 condition (toPart3 true).
func mappedSensitive(code string, toPart3 bool) []string {
	if !toPart3 {
		return answerSensitive[code]
	}
	for _, k := range sortedKeys(answerSensitive) {
		v := answerSensitive[k]
		if slices.Contains(v, code) && (len(v) == 1 || code != "A9-2-g") {
			return []string{k}
		}
	}
	return nil
}
