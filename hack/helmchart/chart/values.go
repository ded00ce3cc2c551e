/*
Copyright 2026 The csi-driver-spiffe operator authors.

Licensed under the Apache License, Version 2.0 (the "License");
you may not use this file except in compliance with the License.
You may obtain a copy of the License at

    http://www.apache.org/licenses/LICENSE-2.0

Unless required by applicable law or agreed to in writing, software
distributed under the License is distributed on an "AS IS" BASIS,
WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
See the License for the specific language governing permissions and
limitations under the License.
*/

package chart

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"go.yaml.in/yaml/v3"
)

// schemaPrefix starts a comment line that sets the JSON schema of a value,
// instead of the one derived from its default.
const schemaPrefix = "+schema:"

// Value is one documented value of values.yaml: a scalar, a list, or a map
// whose schema is given with +schema (a map without one is documented key by
// key instead).
type Value struct {
	// Path is the dotted path, such as "image.repository".
	Path string
	// Description is the comment above the key, as Markdown.
	Description string
	// Default is the default, as YAML.
	Default string
	// Schema is the value's JSON schema.
	Schema map[string]any
	// Group is true for a map documented key by key: only Path and
	// Description are set.
	Group bool
}

// Values is a parsed values.yaml.
type Values struct {
	// Values are the documented values, in file order.
	Values []Value
	schema map[string]any
}

// ParseValues reads values.yaml. Every key needs a comment (its
// description); empty maps and lists, whose schema cannot be derived from
// the default, need a +schema line.
func ParseValues(data []byte) (*Values, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, err
	}
	if doc.Kind != yaml.DocumentNode || len(doc.Content) != 1 || doc.Content[0].Kind != yaml.MappingNode {
		return nil, errors.New("values must be a map")
	}
	v := &Values{}
	var errs []error
	v.schema = v.walk(doc.Content[0], "", &errs)
	return v, errors.Join(errs...)
}

// walk documents the keys of a map and returns its schema.
func (v *Values) walk(m *yaml.Node, prefix string, errs *[]error) map[string]any {
	props := map[string]any{}
	for i := 0; i+1 < len(m.Content); i += 2 {
		key, val := m.Content[i], m.Content[i+1]
		path := prefix + key.Value
		desc, override, err := parseComment(key.HeadComment)
		if err != nil {
			*errs = append(*errs, fmt.Errorf("%s: %w", path, err))
			continue
		}
		if override == nil && val.Kind == yaml.MappingNode && len(val.Content) > 0 {
			// A map of documented keys: a group, described by its keys
			// and optionally by a comment of its own.
			if desc != "" {
				v.Values = append(v.Values, Value{Path: path, Description: desc, Group: true})
			}
			props[key.Value] = v.walk(val, path+".", errs)
			continue
		}
		if desc == "" {
			*errs = append(*errs, fmt.Errorf("%s: no description: write a comment above the key", path))
			continue
		}
		schema := override
		if schema == nil {
			if schema, err = deriveSchema(val); err != nil {
				*errs = append(*errs, fmt.Errorf("%s: %w", path, err))
				continue
			}
		}
		var def any
		if err := val.Decode(&def); err != nil {
			*errs = append(*errs, fmt.Errorf("%s: %w", path, err))
			continue
		}
		var buf bytes.Buffer
		enc := yaml.NewEncoder(&buf)
		enc.SetIndent(2)
		if err := enc.Encode(def); err != nil {
			*errs = append(*errs, fmt.Errorf("%s: %w", path, err))
			continue
		}
		schema["description"] = firstSentence(desc)
		props[key.Value] = schema
		v.Values = append(v.Values, Value{Path: path, Description: desc, Default: strings.TrimSuffix(buf.String(), "\n"), Schema: schema})
	}
	return map[string]any{"type": "object", "properties": props, "additionalProperties": false}
}

// parseComment splits a head comment into the description and the +schema
// override.
func parseComment(c string) (string, map[string]any, error) {
	var desc []string
	var schema map[string]any
	for line := range strings.Lines(c) {
		line = strings.TrimSpace(line)
		if line == "" {
			// A blank line ends a comment block that belongs to no key
			// (such as the file's header).
			desc = nil
			continue
		}
		line = strings.TrimPrefix(strings.TrimPrefix(line, "#"), " ")
		if s, ok := strings.CutPrefix(line, schemaPrefix); ok {
			if err := json.Unmarshal([]byte(s), &schema); err != nil {
				return "", nil, fmt.Errorf("invalid %s line: %w", schemaPrefix, err)
			}
			continue
		}
		desc = append(desc, line)
	}
	return strings.TrimSpace(strings.Join(desc, "\n")), schema, nil
}

func deriveSchema(n *yaml.Node) (map[string]any, error) {
	switch n.Kind {
	case yaml.ScalarNode:
		switch n.Tag {
		case "!!str":
			return map[string]any{"type": "string"}, nil
		case "!!bool":
			return map[string]any{"type": "boolean"}, nil
		case "!!int":
			return map[string]any{"type": "integer"}, nil
		case "!!float":
			return map[string]any{"type": "number"}, nil
		}
	case yaml.MappingNode, yaml.SequenceNode:
		return nil, fmt.Errorf("an empty map or a list needs a %s line", schemaPrefix)
	}
	return nil, fmt.Errorf("cannot derive a schema from %q (%s): add a %s line", n.Value, n.Tag, schemaPrefix)
}

func firstSentence(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if i := strings.Index(s, ". "); i >= 0 {
		return s[:i+1]
	}
	return s
}

// Schema returns values.schema.json.
func (v *Values) Schema() ([]byte, error) {
	s := map[string]any{"$schema": "http://json-schema.org/draft-07/schema#"}
	for k, e := range v.schema {
		s[k] = e
	}
	data, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("failed to marshal the values schema: %w", err)
	}
	return append(data, '\n'), nil
}

// Markdown returns the documentation of every value.
func (v *Values) Markdown() string {
	var b strings.Builder
	for _, val := range v.Values {
		if val.Group {
			fmt.Fprintf(&b, "### %s\n\n%s\n\n", val.Path, strings.Join(strings.Fields(val.Description), " "))
			continue
		}
		fmt.Fprintf(&b, "#### **%s** ~ `%s`\n\n", val.Path, schemaType(val.Schema))
		b.WriteString("> Default value:\n> ```yaml\n")
		for line := range strings.Lines(val.Default + "\n") {
			b.WriteString("> " + line)
		}
		b.WriteString("> ```\n\n")
		b.WriteString(strings.Join(strings.Fields(val.Description), " "))
		b.WriteString("\n\n")
	}
	return b.String()
}

func schemaType(s map[string]any) string {
	switch t := s["type"].(type) {
	case string:
		if t == "array" {
			if items, ok := s["items"].(map[string]any); ok {
				return schemaType(items) + "[]"
			}
		}
		return t
	case []any:
		var names []string
		for _, e := range t {
			names = append(names, fmt.Sprint(e))
		}
		return strings.Join(names, ",")
	}
	return "any"
}

// The values section of the chart's README.md lies between these markers.
const (
	beginValues = "<!-- BEGIN values: generated by hack/helmchart from values.yaml (`make helm-chart`); do not edit -->\n"
	endValues   = "<!-- END values -->\n"
)

func injectValues(readme []byte, values string) ([]byte, error) {
	s := string(readme)
	begin := strings.Index(s, beginValues)
	end := strings.Index(s, endValues)
	if begin < 0 || end < begin {
		return nil, fmt.Errorf("the chart's README.md lacks the markers %q and %q", strings.TrimSpace(beginValues), strings.TrimSpace(endValues))
	}
	return []byte(s[:begin+len(beginValues)] + "\n" + values + s[end:]), nil
}
