package corpus

// Text extraction: HTML and roff (man pages) to plain text.

import (
	"html"
	"regexp"
	"strings"
)

var (
	htmlDropBlocks = regexp.MustCompile(`(?is)<(script|style|head)\b.*?</(script|style|head)\s*>|<!--.*?-->`)
	htmlBreakTags  = regexp.MustCompile(`(?i)<(/?(p|div|h[1-6]|li|ul|ol|pre|tr|table|blockquote|section|dt|dd)\b[^>]*|br\s*/?)>`)
	htmlTags       = regexp.MustCompile(`<[^>]*>`)
	blankRuns      = regexp.MustCompile(`\n[ \t]*(\n[ \t]*)+`)
	trailingSpace  = regexp.MustCompile(`[ \t]+\n`)
)

// StripHTML removes markup (tags, comments, script/style blocks) from an
// HTML document, turns block-level tags into line breaks, decodes entities
// and collapses runs of blank lines. It is a text extractor, not a parser.
func StripHTML(s string) string {
	s = htmlDropBlocks.ReplaceAllString(s, "")
	s = htmlBreakTags.ReplaceAllString(s, "\n")
	s = htmlTags.ReplaceAllString(s, "")
	s = html.UnescapeString(s)
	return tidy(s)
}

func tidy(s string) string {
	s = strings.ReplaceAll(s, "\r\n", "\n")
	s = trailingSpace.ReplaceAllString(s, "\n")
	s = blankRuns.ReplaceAllString(s, "\n\n")
	return strings.TrimSpace(s) + "\n"
}

// roffDrop lists requests/macros whose arguments carry no running text.
var roffDrop = map[string]bool{
	"TH": true, "PP": true, "LP": true, "P": true, "br": true, "sp": true, "fi": true, "nf": true,
	"in": true, "ti": true, "ft": true, "ps": true, "ne": true, "de": true, "ds": true, "nr": true,
	"if": true, "ie": true, "el": true, "so": true, "ad": true, "na": true, "hy": true, "nh": true,
	"ll": true, "RS": true, "RE": true, "TP": true, "PD": true, "IX": true, "Dd": true, "Dt": true,
	"Os": true, "Bl": true, "El": true, "Bd": true, "Ed": true, "UC": true, "TS": true, "TE": true,
	"EX": true, "EE": true, "ig": true, "..": true, "ta": true, "rm": true, "als": true, "mso": true,
	"cs": true, "tr": true, "ec": true, "eo": true, "ev": true, "lf": true, "ns": true, "rs": true,
	"UR": true, "UE": true, "MT": true, "ME": true, "ce": true, "bp": true, "Vb": true,
	"Ve": true, "Sp": true, "Pp": true,
}

var (
	roffFont    = regexp.MustCompile(`\\f(\[[^\]]*\]|\(..|.)`)
	roffSize    = regexp.MustCompile(`\\s[-+]?(\d\d?|\(\d\d|\[\d+\])`)
	roffNamed   = regexp.MustCompile(`\\(\(..|\[[^\]]*\])`)
	roffString  = regexp.MustCompile(`\\\*(\(..|\[[^\]]*\]|.)`)
	roffNumReg  = regexp.MustCompile(`\\n(\(..|\[[^\]]*\]|.)`)
	roffFunc    = regexp.MustCompile(`\\[hvwlLbDoXZkx]'[^']*'`)
	roffOther   = regexp.MustCompile(`\\[&|^,/:%cdu!0~ ]`)
	roffSpecial = map[string]string{
		"em": "—", "en": "–", "bu": "•", "aq": "'", "dq": `"`, "lq": "“", "rq": "”", "oq": "‘", "cq": "’",
		"hy": "-", "mi": "-", "co": "©", "rg": "®", "tm": "™", "de": "°", "ti": "~", "ha": "^",
		"rs": `\`, "sl": "/", "ga": "`", "aa": "´", "pl": "+", "mu": "×", "->": "→", "<-": "←",
		"<=": "≤", ">=": "≥", "!=": "≠", "==": "≡", "Fo": "«", "Fc": "»", "fo": "‹", "fc": "›",
	}
)

// StripRoff converts a roff (man(7)/mdoc(7)) page to plain text: comments
// and layout requests are dropped, text-bearing macros (.SH, .B, .BR, .Nm,
// ...) keep their arguments, and inline escapes (fonts, sizes, special
// characters) are removed or replaced by their Unicode equivalent. It is a
// deliberately simple converter, good enough for running text.
func StripRoff(s string) string {
	var out strings.Builder
	for _, line := range strings.Split(s, "\n") {
		line = strings.TrimRight(line, "\r")
		if strings.HasPrefix(line, `.\"`) || strings.HasPrefix(line, `'\"`) || strings.HasPrefix(line, `\"`) {
			continue
		}
		if strings.HasPrefix(line, ".") || strings.HasPrefix(line, "'") {
			body := strings.TrimSpace(line[1:])
			name, args, _ := strings.Cut(body, " ")
			if name == "" || roffDrop[name] {
				continue
			}
			if name == "SH" || name == "SS" || name == "Sh" || name == "Ss" {
				out.WriteString("\n")
			}
			line = unquoteRoffArgs(args)
		}
		out.WriteString(roffInline(line))
		out.WriteString("\n")
	}
	return tidy(out.String())
}

func unquoteRoffArgs(args string) string {
	args = strings.TrimSpace(args)
	var parts []string
	for args != "" {
		if args[0] == '"' {
			end := strings.IndexByte(args[1:], '"')
			if end < 0 {
				parts = append(parts, args[1:])
				break
			}
			parts = append(parts, args[1:1+end])
			args = strings.TrimSpace(args[2+end:])
			continue
		}
		w, rest, _ := strings.Cut(args, " ")
		parts = append(parts, w)
		args = strings.TrimSpace(rest)
	}
	return strings.Join(parts, " ")
}

func roffInline(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	s = strings.ReplaceAll(s, `\\`, "\x00")
	s = strings.ReplaceAll(s, `\-`, "-")
	s = strings.ReplaceAll(s, `\e`, "\x00")
	s = strings.ReplaceAll(s, `\(aq`, "'")
	s = roffFont.ReplaceAllString(s, "")
	s = roffSize.ReplaceAllString(s, "")
	s = roffString.ReplaceAllString(s, "")
	s = roffNumReg.ReplaceAllString(s, "")
	s = roffFunc.ReplaceAllString(s, "")
	s = roffNamed.ReplaceAllStringFunc(s, func(m string) string {
		name := strings.TrimSuffix(strings.TrimPrefix(strings.TrimPrefix(m[1:], "("), "["), "]")
		return roffSpecial[name]
	})
	s = roffOther.ReplaceAllStringFunc(s, func(m string) string {
		if m == `\ ` || m == `\~` || m == `\0` {
			return " "
		}
		return ""
	})
	if i := strings.Index(s, `\"`); i >= 0 {
		s = s[:i]
	}
	return strings.ReplaceAll(s, "\x00", `\`)
}
