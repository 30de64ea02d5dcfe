package api

import (
	"encoding/json"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// The schemas in api/openapi.yaml have exactly the fields of the Go types
// the gateway and client encode.
func TestOpenAPISchemasMatchTypes(t *testing.T) {
	b, err := OpenAPIJSON()
	require.NoError(t, err)
	var doc struct {
		Components struct {
			Schemas map[string]struct {
				Properties map[string]any `json:"properties"`
			} `json:"schemas"`
		} `json:"components"`
	}
	require.NoError(t, json.Unmarshal(b, &doc))
	for name, v := range map[string]any{
		"Health": Health{}, "WhoAmI": WhoAmI{}, "Subject": Subject{}, "Authoriser": Authoriser{},
		"Notification": Notification{}, "ExchangeDeclaration": ExchangeDeclaration{}, "Check": Check{},
		"Decision": Decision{}, "DecisionCheck": DecisionCheck{}, "Payload": Payload{}, "Exchange": Exchange{},
		"InformationRequest": InformationRequest{}, "Request": Request{}, "RequestList": RequestList{},
		"Inbox": Inbox{}, "Notice": Notice{}, "Notices": Notices{}, "Reason": Reason{},
		"PartyRegistration": PartyRegistration{}, "IdentityRule": IdentityRule{},
		"SubjectAccessRequest": SubjectAccessRequest{}, "OverrideReview": OverrideReview{},
		"NotificationUpdate": NotificationUpdate{}, "RectificationRequest": RectificationRequest{},
		"FieldError": FieldError{}, "Problem": Problem{},
	} {
		schema, ok := doc.Components.Schemas[name]
		require.True(t, ok, "no schema %s", name)
		var documented []string
		for p := range schema.Properties {
			documented = append(documented, p)
		}
		slices.Sort(documented)
		require.Equal(t, jsonFields(reflect.TypeOf(v)), documented, "schema %s", name)
	}
}

func jsonFields(t reflect.Type) []string {
	var out []string
	for i := range t.NumField() {
		f := t.Field(i)
		tag := f.Tag.Get("json")
		if tag == "-" || !f.IsExported() {
			continue
		}
		name, _, _ := strings.Cut(tag, ",")
		if name == "" {
			name = f.Name
		}
		out = append(out, name)
	}
	slices.Sort(out)
	return out
}
