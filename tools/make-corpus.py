#!/usr/bin/env python3
"""Writes a corpus of remote-sensing referring expressions for training the tokenizer of the
default model (data/model). Template-made, deterministic (seeded), written for this project:
object classes of aerial and satellite imagery, attributes, spatial relations, ordinals, counts.

    python3 tools/make-corpus.py > data/model/corpus.txt
"""
import random

rng = random.Random(20261129)

CLASSES = {
    "building": ["building", "buildings", "house", "houses", "warehouse", "tower", "villa",
                 "apartment block", "factory", "hangar", "greenhouse", "shed", "mall", "school",
                 "hospital", "residential building", "office building", "skyscraper"],
    "road": ["road", "roads", "street", "streets", "highway", "motorway", "expressway", "lane",
             "avenue", "track", "dirt road", "paved road", "overpass", "interchange",
             "roundabout", "intersection", "crossroads", "parking lot", "car park", "runway",
             "taxiway", "railway", "railroad"],
    "vehicle": ["vehicle", "vehicles", "car", "cars", "truck", "trucks", "bus", "van", "trailer",
                "train", "excavator", "crane"],
    "ship": ["ship", "ships", "boat", "boats", "vessel", "yacht", "ferry", "tanker", "barge",
             "fishing boat", "sailboat"],
    "tank": ["storage tank", "storage tanks", "oil tank", "water tank", "silo", "gas tank",
             "cylindrical tank"],
    "airplane": ["airplane", "airplanes", "plane", "aircraft", "jet", "helicopter", "airliner"],
    "bridge": ["bridge", "bridges", "footbridge", "viaduct", "pier", "jetty", "dock", "wharf"],
    "court": ["tennis court", "basketball court", "volleyball court", "baseball field",
              "soccer field", "football pitch", "ground track field", "running track",
              "stadium", "golf course", "swimming pool", "playground"],
    "water": ["water", "lake", "pond", "river", "canal", "sea", "bay", "harbor", "harbour",
              "reservoir", "lagoon", "creek", "stream", "coastline", "dam", "water body",
              "water bodies", "water areas"],
    "vegetation": ["vegetation", "tree", "trees", "forest", "woods", "grass", "lawn", "park",
                   "garden", "shrubs", "bushes", "palm trees", "green area", "farmland",
                   "cropland", "orchard", "field", "fields", "meadow"],
    "land": ["land", "bare land", "unpaved land", "sand", "desert", "bare soil", "construction site",
             "vacant lot", "dirt area", "beach", "rock", "hill", "open ground"],
    "other": ["chimney", "windmill", "wind turbine", "solar panel", "solar farm", "toll station",
              "service area", "train station", "airport", "port", "container", "containers",
              "shadow", "roof", "courtyard", "fence", "wall", "tent", "pipeline"],
}
COLOURS = ["white", "gray", "grey", "black", "red", "blue", "green", "dark", "light", "bright",
           "brown", "yellow", "orange", "beige", "dark green", "light blue", "silver"]
SIZES = ["large", "small", "big", "tiny", "huge", "long", "short", "narrow", "wide", "tall",
         "low", "medium-sized", "giant", "little"]
SHAPES = ["round", "square", "rectangular", "circular", "L-shaped", "curved", "straight",
          "triangular", "oval", "irregular", "elongated"]
MATERIALS = ["paved", "unpaved", "concrete", "asphalt", "metal", "glass", "brick", "sandy",
             "muddy", "flat-roofed", "red-roofed", "empty", "crowded", "parked", "moving",
             "docked", "abandoned", "new", "old"]
SUPERLATIVES = ["largest", "smallest", "biggest", "longest", "widest", "tallest", "leftmost",
                "rightmost", "topmost", "bottommost", "uppermost", "lowest", "northernmost",
                "southernmost", "easternmost", "westernmost", "closest", "farthest", "nearest"]
ORDINALS = ["first", "second", "third", "fourth", "fifth", "sixth", "seventh", "eighth",
            "ninth", "tenth", "last"]
COUNTS = ["two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "several",
          "many", "a few", "a group of", "a row of", "a pair of", "dozens of", "multiple"]
PLACES = ["on the left", "on the right", "at the top", "at the bottom", "in the middle",
          "in the center", "in the centre", "in the top left corner", "in the top right corner",
          "in the bottom left corner", "in the bottom right corner", "on the left side",
          "on the right side", "at the upper edge", "at the lower edge", "in the upper half",
          "in the lower half", "in the left half", "in the right half", "near the top",
          "near the bottom", "along the left edge", "along the right edge",
          "in the upper left", "in the lower right", "at the far left", "at the far right",
          "in the north", "in the south", "in the east", "in the west",
          "in the image", "of the picture", "of the scene"]
RELATIONS = ["next to", "near", "beside", "close to", "far from", "between", "above", "below",
             "to the left of", "to the right of", "left of", "right of", "adjacent to",
             "across from", "opposite", "along", "surrounded by", "behind", "in front of",
             "north of", "south of", "east of", "west of", "on top of", "under", "around",
             "facing", "parallel to", "perpendicular to", "at the end of", "on the edge of",
             "in the shadow of", "connected to", "crossing", "overlooking", "inside", "outside"]
VERBS = ["parked", "located", "lying", "standing", "situated", "positioned", "placed", "docked",
         "running", "stretching", "extending", "flowing"]


def noun():
    return rng.choice(rng.choice(list(CLASSES.values())))


def adjectives():
    pool = [COLOURS, SIZES, SHAPES, MATERIALS]
    k = rng.choice([0, 0, 1, 1, 1, 2, 2, 3])
    return " ".join(rng.choice(p) for p in rng.sample(pool, k))


def np_(det=True):
    parts = []
    if det:
        parts.append(rng.choice(["the", "the", "the", "a", "that", "this"]))
    a = adjectives()
    if a:
        parts.append(a)
    parts.append(noun())
    return " ".join(parts)


def expression():
    kind = rng.randrange(12)
    if kind == 0:
        return f"all {noun()}"
    if kind == 1:
        return f"the {rng.choice(SUPERLATIVES)} {adjectives()} {noun()}".replace("  ", " ")
    if kind == 2:
        return f"{np_()} {rng.choice(PLACES)}"
    if kind == 3:
        return f"{np_()} {rng.choice(RELATIONS)} {np_()}"
    if kind == 4:
        return f"the {rng.choice(ORDINALS)} {noun()} from the {rng.choice(['left', 'right', 'top', 'bottom'])}"
    if kind == 5:
        return f"{rng.choice(COUNTS)} {adjectives()} {noun()} {rng.choice(PLACES)}".replace("  ", " ")
    if kind == 6:
        return f"{np_()} {rng.choice(VERBS)} {rng.choice(RELATIONS)} {np_()} {rng.choice(PLACES)}"
    if kind == 7:
        return f"the {rng.choice(SUPERLATIVES)} {noun()} {rng.choice(RELATIONS)} {np_()}"
    if kind == 8:
        return f"{np_()} that is {rng.choice(RELATIONS)} {np_()}"
    if kind == 9:
        return f"{np_()} with {np_(det=False)}"
    if kind == 10 and rng.random() < 0.5:
        n = rng.randrange(1, 100)
        return rng.choice([f"the {n}{'st' if n % 10 == 1 else 'nd' if n % 10 == 2 else 'rd' if n % 10 == 3 else 'th'} {noun()}",
                           f"{n} {noun()} {rng.choice(PLACES)}", f"{noun()} number {n}",
                           f"about {n}% of the {noun()}", f"the {noun()} at {n} o'clock",
                           f"a {n} m long {noun()}, {rng.choice(PLACES)}; not the {noun()}!"])
    if kind == 10:
        return f"the {rng.choice(['second', 'third'])} {rng.choice(['largest', 'smallest', 'longest'])} {noun()} {rng.choice(PLACES)}"
    return f"{np_()} {rng.choice(PLACES)} {rng.choice(RELATIONS)} {np_()}"


def main():
    seen = set()
    while len(seen) < 40000:
        e = " ".join(expression().split())
        if rng.random() < 0.1:
            e = e[0].upper() + e[1:]
        seen.add(e)
    for e in sorted(seen, key=lambda s: rng.random()):
        print(e)


if __name__ == "__main__":
    main()
