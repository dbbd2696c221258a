// Package sample generates realistic, deterministic sample parts for demos
// (partflow seed), load tests and benchmarks.
package sample

import (
	"fmt"
	"math/rand/v2"
	"strings"

	"github.com/partflow/partflow/parts"
)

var (
	nouns = []string{"Bracket", "Gusset", "Spacer", "Shaft", "Hub", "Plate", "Mount", "Standoff", "Bearing Block",
		"Pulley", "Gear", "Sprocket", "Arm", "Clamp", "Bumper Frame", "Intake Roller", "Hood", "Belly Pan",
		"Motor Plate", "Tube Plug", "Hex Adapter", "Side Rail", "Cross Member", "Pivot", "Latch"}
	adjectives = []string{"Left", "Right", "Upper", "Lower", "Front", "Rear", "Inner", "Outer", "Main", "Spare"}
	materials  = []string{"6061-T6 Aluminium", "7075 Aluminium", "Polycarbonate", "Delrin (POM)", "PLA",
		"PETG", "Nylon 12", "1018 Steel", "4140 Steel", "HDPE", "Carbon Fibre Sheet", "Brass"}
	subsystems = []string{"Drivetrain", "Intake", "Shooter", "Elevator", "Climber", "Arm", "Chassis",
		"Electrical", "Bumpers", "Turret"}
	people = []string{"Ada Lovelace", "Grace Hopper", "Alan Turing", "Katherine Johnson", "Linus Torvalds",
		"Margaret Hamilton", "Dennis Ritchie", "Hedy Lamarr", "Claude Shannon", "Radia Perlman",
		"Ken Thompson", "Barbara Liskov"}
	sentences = []string{
		"Deburr all edges before assembly.",
		"Tap the two holes on the short side to 10-32.",
		"Check the bore against the bearing before cutting the full batch.",
		"Use the 1/4 inch end mill; the pocket depth is critical.",
		"Coordinate with the electrical team about wire routing.",
		"Countersink the mounting holes for flat-head screws.",
		"Print with 40 percent infill and four walls.",
		"Tolerances on the bearing seat are tight, measure twice.",
		"Anodize black after machining if time allows.",
		"The previous revision cracked at the fillet, so this one is thicker.",
		"Keep the offcuts; they are useful for spacers.",
		"Match-drill with the mating plate during assembly.",
	}
)

// Generator makes sample parts from a fixed seed: the same seed gives the
// same parts.
type Generator struct {
	r *rand.Rand
	z *zipf
	n int
}

// New returns a Generator seeded with seed.
func New(seed uint64) *Generator {
	r := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	return &Generator{r: r, z: newZipf(r)}
}

// Person returns a random person's name.
func (g *Generator) Person() string { return people[g.r.IntN(len(people))] }

// Part returns a new part ready for Service.CreatePart: realistic name,
// material, subsystem, type, amount and notes: one common shop sentence and
// one or two drawn from a vocabulary of more than 1,500 words (a few
// common, most rare, as in real text).
func (g *Generator) Part() *parts.Part {
	g.n++
	typ := parts.TypeCNC
	switch g.r.IntN(10) {
	case 0:
		typ = parts.TypeNone
	case 1, 2, 3, 4:
		typ = parts.TypeHand
	}
	notes := []string{sentences[g.r.IntN(len(sentences))]}
	for range 1 + g.r.IntN(2) {
		notes = append(notes, g.sentence())
	}
	sub := subsystems[g.r.IntN(len(subsystems))]
	return &parts.Part{
		PartID:    fmt.Sprintf("%s-%04d", strings.ToUpper(sub[:3]), g.n),
		Name:      adjectives[g.r.IntN(len(adjectives))] + " " + nouns[g.r.IntN(len(nouns))],
		Type:      typ,
		Material:  materials[g.r.IntN(len(materials))],
		Subsystem: sub,
		Amount:    1 + g.r.IntN(4),
		Notes:     strings.Join(notes, " "),
	}
}

// Step is one workflow action to apply after creating a part.
type Step struct {
	Action parts.Action
	Input  parts.ActionInput
}

// Plan returns the workflow steps that take a fresh part to a random,
// realistic state: about 20% stay in review, 25% end completed, the rest are
// in the cnc or hand column, some claimed, some started and unclaimed.
func (g *Generator) Plan() []Step {
	reviewer := g.Person()
	x := g.r.IntN(100)
	if x < 20 {
		return nil
	}
	steps := []Step{{parts.ActionApprove, parts.ActionInput{Reviewer: reviewer, Actor: reviewer}}}
	who := g.Person()
	claim := Step{parts.ActionAssign, parts.ActionInput{Assignee: who, Actor: who}}
	switch {
	case x < 45:
	case x < 60:
		steps = append(steps, claim)
	case x < 70:
		steps = append(steps, claim, Step{parts.ActionUnclaim, parts.ActionInput{Actor: who}})
		other := g.Person()
		steps = append(steps, Step{parts.ActionAssign, parts.ActionInput{Assignee: other, Actor: other}})
	case x < 75:
		steps = append(steps, claim, Step{parts.ActionUnclaim, parts.ActionInput{Actor: who}})
	case x < 90:
		steps = append(steps, claim, Step{parts.ActionComplete, parts.ActionInput{Actor: who}})
	default:
		other := g.Person()
		steps = append(steps, claim, Step{parts.ActionUnclaim, parts.ActionInput{Actor: who}},
			Step{parts.ActionAssign, parts.ActionInput{Assignee: other, Actor: other}},
			Step{parts.ActionComplete, parts.ActionInput{Actor: other}})
	}
	return steps
}
