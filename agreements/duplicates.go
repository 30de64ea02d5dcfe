package agreements

import (
	"slices"

	"github.com/gatehouse-gw/gatehouse/internal/valid"
)

// duplicateFlows reports each flow whose sender → recipient pair an earlier
// flow already covers for one of the same purposes. Two flows may share a
// pair for different purposes (a police request for crime under DPA 2018
// Part 3, one for safeguarding under UK GDPR): the purpose says which terms
// govern. For one purpose there is one set of terms; the decision would take
// the first flow that permits a request, so a second one's limits and
// conditions would read as if they applied while another flow's did.
func duplicateFlows(v *valid.Errors, flows []Flow) {
	for i, f := range flows {
	earlier:
		for j := range i {
			g := &flows[j]
			for _, from := range f.From {
				for _, to := range f.To {
					if !g.Sends(from) || !g.Receives(to) {
						continue
					}
					for _, p := range f.Purposes {
						if slices.Contains(g.Purposes, p) {
							v.Add(valid.Path("flows", i), "duplicate-flow",
								"%s → %s for %q is already covered by flows[%d]; one purpose has one set of terms, so merge them", from, to, p, j)
							break earlier
						}
					}
				}
			}
		}
	}
}
