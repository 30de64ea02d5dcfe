package e2e

import (
	"context"
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/gatehouse-gw/gatehouse/api"
	"github.com/gatehouse-gw/gatehouse/devenv/testenv"
)

// A declaration or request may name the version of the agreement it relies
// on; one that is not the version in force is refused by name, in the dry
// run too, and a version of no agreement is a mistake to correct.
func TestAgreementVersionNamed(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	gw := testenv.StartGateway(t, testenv.GatewayOptions{})
	council := gw.Client(t, "council.revenues")
	police := gw.Client(t, "police.northshire")

	d := policeDisclosure(5)
	d.AgreementVersion = 1
	e, err := council.Declare(ctx, d)
	require.NoError(t, err)
	require.Equal(t, "police-crime@1", e.Agreement)

	d.AgreementVersion = 2
	_, err = council.Declare(ctx, d)
	requireFailed(t, err, "agreement.version")
	dec, err := council.Check(ctx, d)
	require.NoError(t, err)
	require.Equal(t, "deny", dec.Outcome)

	q := scheduleTwoRequest()
	q.AgreementVersion = 3
	_, err = police.Request(ctx, q)
	requireFailed(t, err, "agreement.version")

	d.Agreement, d.Urgency = "", "emergency"
	_, err = council.Declare(ctx, d)
	p := requireProblem(t, err, http.StatusBadRequest, "invalid-request")
	require.Equal(t, "agreement_version", p.Errors[0].Field)
}

// Each kind of organisation has its own ranks: the demo police-crime flow
// and an inspector's for the police; a council title never stands for a
// police rank.
func TestAuthoriserRankByKind(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	gw := testenv.StartGateway(t, testenv.GatewayOptions{})
	council := gw.Client(t, "council.revenues")
	police := gw.Client(t, "police.northshire")

	d := policeDisclosure(5)
	d.Authoriser = &api.Authoriser{Name: "R. Okafor", Rank: "Head of Service"}
	_, err := council.Declare(ctx, d)
	require.NoError(t, err)
	d.Authoriser.Rank = "team-leader"
	_, err = council.Declare(ctx, d)
	requireFailed(t, err, "authoriser.rank")
	// The authoriser belongs to the council that sends: a police rank, however
	// senior, does not authorise the council's disclosure.
	d.Authoriser = &api.Authoriser{Name: "DI Sam Patel", Rank: "Detective Chief Superintendent"}
	_, err = council.Declare(ctx, d)
	requireFailed(t, err, "authoriser.rank")

	q := scheduleTwoRequest()
	q.Authoriser.Rank = "Chief Superintendent"
	_, err = police.Request(ctx, q)
	require.NoError(t, err)
	q.Authoriser.Rank = "chief-executive"
	_, err = police.Request(ctx, q)
	requireFailed(t, err, "authoriser.rank")
	q.Authoriser.Rank = "Captain"
	_, err = police.Request(ctx, q)
	p := requireProblem(t, err, http.StatusBadRequest, "invalid-request")
	require.Equal(t, "authoriser.rank", p.Errors[0].Field)
	require.Contains(t, p.Errors[0].Message, "police ranks: constable, sergeant, inspector")
}
