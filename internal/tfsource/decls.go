package tfsource

import (
	"bytes"
	"encoding/json"
	"slices"
)

// Decls is what one native-syntax file declares about the module graph:
// whether a terraform block declares a backend, and the source strings of
// its module blocks, as written.
type Decls struct {
	Backend bool
	Sources []string
}

// ScanDecls reads a .tf file's backend and module sources without parsing
// it, in one linear pass of the nesting scanner, so a caller can plan the
// order of work over a whole checkout before the files are parsed. It
// follows only the layout terraform files have in practice (block headers
// on their own line, `source = "literal"` on its own line); ok is false
// when the file steps outside it (a one-line module or terraform block, a
// source that is not a plain string, nesting past MaxNesting), and the
// caller must then not rely on the result.
func ScanDecls(src []byte) (d Decls, ok bool) {
	s := &scanner{src: src, line: 1}
	s.push(frame{kind: '{'})
	block := "" // the open top-level block: "module", "terraform" or other
	bol := true // at the start of a line in a body
	for s.i < len(s.src) {
		if bol && s.top().kind == '{' && len(s.stack) <= 2 {
			bol = false
			for s.i < len(s.src) && (s.src[s.i] == ' ' || s.src[s.i] == '\t' || s.src[s.i] == '\r') {
				s.i++
			}
			end := bytes.IndexByte(s.src[s.i:], '\n')
			if end < 0 {
				end = len(s.src) - s.i
			}
			line := s.src[s.i : s.i+end]
			if len(s.stack) == 1 {
				name, labels, oneLine := blockHeader(line)
				switch {
				case name == "module" && labels == 1, name == "terraform" && labels == 0:
					if oneLine {
						return d, false
					}
					block = name
				default:
					block = ""
				}
			} else {
				switch block {
				case "module":
					if name, rest := ident(line); string(name) == "source" {
						v, call, ok := literalAttr(rest)
						if !ok {
							return d, false
						}
						if call {
							d.Sources = append(d.Sources, v)
						}
					}
				case "terraform":
					if name, labels, _ := blockHeader(line); name == "backend" && labels == 1 {
						d.Backend = true
					}
				}
			}
			continue
		}
		var step bool
		switch s.top().kind {
		case 's':
			step = s.quoted()
		case 'h', 't':
			step = s.templateBody()
		default:
			c := s.src[s.i]
			step = s.expr()
			bol = c == '\n' && s.top().kind == '{'
		}
		if !step {
			return d, false
		}
	}
	return d, true
}

// ident splits a leading identifier off line.
func ident(line []byte) (name, rest []byte) {
	n := 0
	for n < len(line) && (line[n] == '_' || line[n] == '-' || line[n] >= '0' && line[n] <= '9' || line[n]|0x20 >= 'a' && line[n]|0x20 <= 'z') {
		n++
	}
	return line[:n], line[n:]
}

// blockHeader reads a block header, `type "label" label {`: its type
// ("" when line opens no block), its number of labels, and whether the
// block goes on past its opening brace on the same line.
func blockHeader(line []byte) (typ string, labels int, oneLine bool) {
	name, rest := ident(line)
	if len(name) == 0 {
		return "", 0, false
	}
	for {
		rest = bytes.TrimLeft(rest, " \t")
		switch {
		case len(rest) > 0 && rest[0] == '"':
			end := bytes.IndexByte(rest[1:], '"')
			if end < 0 {
				return "", 0, false
			}
			rest = rest[end+2:]
			labels++
			continue
		case len(rest) > 0 && rest[0] == '{':
			after := bytes.TrimSpace(rest[1:])
			return string(name), labels, len(after) > 0 && after[0] != '#' && !bytes.HasPrefix(after, []byte("//"))
		}
		l, r := ident(rest)
		if len(l) == 0 {
			return "", 0, false
		}
		rest = r
		labels++
	}
}

// literalAttr reads `= "string"` to the end of the line (a comment may
// follow). A template is no static string, so no module call (call is
// false), as for the parse; ok is false for anything else, escapes
// included, whose value only the parse knows.
func literalAttr(rest []byte) (v string, call, ok bool) {
	rest = bytes.TrimLeft(rest, " \t")
	if len(rest) == 0 || rest[0] != '=' {
		return "", false, false
	}
	rest = bytes.TrimLeft(rest[1:], " \t")
	if len(rest) == 0 || rest[0] != '"' {
		return "", false, false
	}
	end := bytes.IndexByte(rest[1:], '"')
	if end < 0 {
		return "", false, false
	}
	raw := rest[1 : end+1]
	after := bytes.TrimSpace(rest[end+2:])
	if len(after) > 0 && after[0] != '#' && !bytes.HasPrefix(after, []byte("//")) {
		return "", false, false
	}
	switch {
	case bytes.ContainsAny(raw, `\`), bytes.Contains(raw, []byte("$${")), bytes.Contains(raw, []byte("%%{")):
		return "", false, false
	case bytes.Contains(raw, []byte("${")), bytes.Contains(raw, []byte("%{")):
		return "", false, true
	}
	return string(raw), true, true
}

// ScanJSONDecls is ScanDecls for a .tf.json file. ok is false when src is
// not a JSON object.
func ScanJSONDecls(src []byte) (d Decls, ok bool) {
	var doc map[string]json.RawMessage
	if err := json.Unmarshal(src, &doc); err != nil {
		return d, false
	}
	for _, tf := range jsonObjects(doc["terraform"]) {
		for _, b := range jsonObjects(tf["backend"]) {
			d.Backend = d.Backend || len(b) > 0
		}
	}
	for _, mods := range jsonObjects(doc["module"]) {
		names := make([]string, 0, len(mods))
		for name := range mods {
			names = append(names, name)
		}
		slices.Sort(names)
		for _, name := range names {
			for _, m := range jsonObjects(mods[name]) {
				var source string
				if json.Unmarshal(m["source"], &source) == nil {
					d.Sources = append(d.Sources, source)
				}
			}
		}
	}
	return d, true
}

// jsonObjects reads raw as an object or an array of objects, the two ways
// JSON syntax writes a block; anything else is none.
func jsonObjects(raw json.RawMessage) []map[string]json.RawMessage {
	if len(raw) == 0 {
		return nil
	}
	var one map[string]json.RawMessage
	if json.Unmarshal(raw, &one) == nil {
		return []map[string]json.RawMessage{one}
	}
	var many []map[string]json.RawMessage
	if json.Unmarshal(raw, &many) == nil {
		return many
	}
	return nil
}
