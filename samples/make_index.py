"""Write samples/existing_patients.csv: a small master patient index for the demo (`make run`).

200 invented patients (Faker, seed 2024) and the patients of the first three sample charts,
one of them with another address and no phone, so the demo drafts show a link, a match found
despite a move, and new patients. `.venv/bin/python samples/make_index.py`
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

from faker import Faker

HERE = Path(__file__).resolve().parent
HEADER = ["id", "given_name", "middle_name", "family_name", "birth_date", "sex", "address_line", "city", "state",
          "postal_code", "phone", "ssn"]  # fmt: skip


def fake_patients(n: int, seed: int) -> list[dict[str, str]]:
    """``n`` invented patients in the contract patient CSV shape (deterministic for a seed)."""
    fake = Faker("en_US")
    fake.seed_instance(seed)
    rows = []
    for i in range(n):
        sex = "F" if i % 2 else "M"
        rows.append(
            {
                "id": f"MRN{1000000 + i}",
                "given_name": fake.first_name_female() if sex == "F" else fake.first_name_male(),
                "middle_name": fake.first_name(),
                "family_name": fake.last_name(),
                "birth_date": fake.date_of_birth(minimum_age=1, maximum_age=95).isoformat(),
                "sex": sex,
                "address_line": fake.street_address(),
                "city": fake.city(),
                "state": fake.state_abbr(),
                "postal_code": fake.postcode(),
                "phone": fake.numerify("2##555####"),
                "ssn": fake.numerify("###-##-####"),
            }
        )
    return rows


def main() -> None:
    rows = fake_patients(200, seed=2024)
    for k, truth in enumerate(sorted((HERE / "truth").glob("*.truth.json"))[:3]):
        patient = json.loads(truth.read_text(encoding="utf-8"))["patient"]
        row = {h: patient.get(h) or "" for h in HEADER if h != "id"}
        row["id"] = f"MRN{2000000 + k}"
        if k == 1:
            row["address_line"], row["phone"] = "77 Old Mill Road", ""
        rows.append(row)
    rows.sort(key=lambda r: r["id"])
    with (HERE / "existing_patients.csv").open("w", newline="", encoding="utf-8") as f:
        w = csv.DictWriter(f, fieldnames=HEADER)
        w.writeheader()
        w.writerows(rows)


if __name__ == "__main__":
    main()
