package main

import (
	"encoding/json"
	"strings"
	"testing"
)

// sortByPlatform orders index entries as the requested platforms, keeps entries of
// other platforms (attestation manifests: unknown/unknown; no platform at all) after
// them in their own order, and refuses a platform that is not a JSON object.
func TestSortByPlatform(t *testing.T) {
	entry := func(digest, platform string) jsonObject {
		d := jsonObject{"digest": mustRaw(digest)}
		if platform != "" {
			d["platform"] = json.RawMessage(platform)
		}
		return d
	}
	descs := []jsonObject{
		entry("att", `{"os":"unknown","architecture":"unknown"}`),
		entry("arm", `{"os":"linux","architecture":"arm","variant":"v7"}`),
		entry("none", ""),
		entry("amd", `{"os":"linux","architecture":"amd64"}`),
	}
	if err := sortByPlatform(descs, []string{"linux/amd64", "linux/arm/v7"}); err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, d := range descs {
		got = append(got, rawString(d, "digest"))
	}
	if strings.Join(got, " ") != "amd arm att none" {
		t.Errorf("order %v, want amd arm att none", got)
	}

	bad := []jsonObject{entry("sha256:1", `"linux/amd64"`)}
	err := sortByPlatform(bad, []string{"linux/amd64"})
	if err == nil || !strings.Contains(err.Error(), `index entry sha256:1 platform "linux/amd64"`) {
		t.Errorf("malformed platform: %v", err)
	}
}
