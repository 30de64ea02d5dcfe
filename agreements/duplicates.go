package agreements

import "github.com/gatehouse-gw/gatehouse/internal/valid"

// duplicateFlows reports each flow whose sender → recipient pair an earlier
// flow already covers. The decision takes the first flow that matches, so a
// later one would never govern: its limits and conditions would read as if
// they applied while another flow's did.
func duplicateFlows(v *valid.Errors, flows []Flow) {
	first := map[[2]string]int{}
	for i, f := range flows {
		reported := false
		for _, from := range f.From {
			for _, to := range f.To {
				pair := [2]string{from, to}
				at, ok := first[pair]
				if !ok {
					first[pair] = i
					continue
				}
				if at != i && !reported {
					v.Add(valid.Path("flows", i), "duplicate-flow",
						"%s → %s is already covered by flows[%d]; the first matching flow decides, so merge them", from, to, at)
					reported = true
				}
			}
		}
	}
}
