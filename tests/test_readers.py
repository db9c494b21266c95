"""Bad input files give one clear DataError naming the file, the column and what was expected.

All files here are small and generated in ``tmp_path``; no shared data is needed.
"""

from __future__ import annotations

import gzip
from pathlib import Path

import pandas as pd
import pytest

from segbench.datasets.mall_customers import MallCustomersDataset
from segbench.datasets.marketing_campaign import MarketingCampaignDataset
from segbench.datasets.readers import (
    CleaningLog,
    age_band,
    excel_sheets,
    read_table,
    resolve_path,
    sniff_separator,
)
from segbench.errors import DataError


def raises(match: str, call, *args, **kwargs) -> str:
    """Run ``call`` expecting a one-paragraph DataError matching ``match``; return the message."""
    with pytest.raises(DataError, match=match) as info:
        call(*args, **kwargs)
    message = str(info.value)
    assert "\n" not in message, "errors are one paragraph"
    return message


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


# --- separators ---------------------------------------------------------------------------


def test_wrong_separator_is_named(tmp_path: Path) -> None:
    path = write(tmp_path / "semi.csv", "a;b;c\n1;2;3\n")
    message = raises(
        r"found 1 column 'a;b;c'.*is the separator ';'\?",
        read_table,
        path,
        sep=",",
        required=["a", "b", "c"],
    )
    assert str(path) in message and "`sep` option" in message


def test_tab_file_read_as_comma(tmp_path: Path) -> None:
    path = write(tmp_path / "tabs.csv", "ID\tAge\n1\t30\n")
    raises(r"found 1 column 'ID\\tAge'.*separator '\\t'", read_table, path, sep=",")


def test_one_column_without_separator_hint(tmp_path: Path) -> None:
    path = write(tmp_path / "one.csv", "abc\n1\n")
    raises(r"found 1 column 'abc', expected the columns \['a', 'b'\]", read_table, path,
           required=["a", "b"])  # fmt: skip
    assert read_table(path).shape == (1, 1)  # a genuine one-column file is fine


def test_separator_guessed_when_none(tmp_path: Path) -> None:
    path = write(tmp_path / "pipe.txt", "a|b|c\n1|2|3\n")
    assert list(read_table(path, sep=None).columns) == ["a", "b", "c"]
    assert sniff_separator("x;y;z") == ";" and sniff_separator("plain") is None


# --- columns, empty files, encodings -----------------------------------------------------


def test_missing_required_column_named_and_columns_listed(tmp_path: Path) -> None:
    path = write(tmp_path / "cust.csv", "id,age,income\n1,30,100\n")
    message = raises(
        r"missing required column 'gender'; the file has the columns \['id', 'age', 'income'\]",
        read_table,
        path,
        required=["id", "gender"],
    )
    assert str(path) in message
    raises(r"missing required columns 'x', 'y'", read_table, path, required=["x", "y"])


def test_empty_file(tmp_path: Path) -> None:
    path = tmp_path / "empty.csv"
    path.write_bytes(b"")
    message = raises(r"the file is empty \(0 bytes\)", read_table, path)
    assert str(path) in message


def test_empty_compressed_file(tmp_path: Path) -> None:
    path = tmp_path / "empty.csv.gz"
    with gzip.open(path, "wb"):
        pass
    raises(r"empty.csv.gz: the file is empty \(no header line\)", read_table, path)


def test_header_without_rows(tmp_path: Path) -> None:
    path = write(tmp_path / "header.csv", "a,b\n")
    raises(r"has a header \(\['a', 'b'\]\) but no data rows", read_table, path)
    assert read_table(path, allow_empty=True).shape == (0, 2)


def test_non_utf8_file_suggests_the_encoding_option(tmp_path: Path) -> None:
    path = tmp_path / "latin.csv"
    path.write_bytes("name,city\nRené,Besançon\n".encode("latin-1"))
    message = raises(r"not valid utf-8 text \(undecodable byte 0xe9\)", read_table, path)
    assert str(path) in message and "encoding: cp1252" in message
    frame = read_table(path, encoding="latin-1")
    assert frame.loc[0, "name"] == "René"


def test_bom_and_zero_padding(tmp_path: Path) -> None:
    path = tmp_path / "bom.csv"
    path.write_bytes("\ufeffid,x\n0007,1\n".encode())
    frame = read_table(path, dtype={"id": str, "not_there": str}, required=["id"])
    assert frame["id"].tolist() == ["0007"]


def test_malformed_rows(tmp_path: Path) -> None:
    path = write(tmp_path / "ragged.csv", "a,b\n1,2\n1,2,3\n")
    raises(r"ragged.csv: malformed delimited text.*line 3", read_table, path)


# --- Excel and Parquet ------------------------------------------------------------------------


@pytest.fixture
def workbook(tmp_path: Path) -> Path:
    path = tmp_path / "book.xlsx"
    with pd.ExcelWriter(path) as writer:
        pd.DataFrame({"id": [1.0, 2.0], "v": ["a", "b"]}).to_excel(
            writer, sheet_name="first", index=False
        )
        pd.DataFrame({"id": [3.0], "v": ["c"]}).to_excel(writer, sheet_name="second", index=False)
    return path


def test_xlsx_wrong_sheet_lists_the_sheets(workbook: Path) -> None:
    message = raises(
        r"no sheet named 'Sheet1'; the workbook has the sheets \['first', 'second'\]",
        read_table,
        workbook,
        sheet="Sheet1",
    )
    assert str(workbook) in message and "`sheet` option" in message
    raises(r"no sheet number 5 .*\['first', 'second'\]", read_table, workbook, sheet=5)


def test_xlsx_sheets_and_text_ids(workbook: Path) -> None:
    assert excel_sheets(workbook) == ["first", "second"]
    assert read_table(workbook)["v"].tolist() == ["a", "b"]
    second = read_table(workbook, sheet="second", dtype={"id": str})
    assert second["id"].tolist() == ["3"]
    assert read_table(workbook, sheet=1)["v"].tolist() == ["c"]


def test_not_really_xlsx_or_parquet(tmp_path: Path) -> None:
    fake = write(tmp_path / "fake.xlsx", "a,b\n1,2\n")
    raises(r"fake.xlsx: not a readable .xlsx workbook", read_table, fake)
    fake = write(tmp_path / "fake.parquet", "a,b\n1,2\n")
    raises(r"fake.parquet: not a readable Parquet file", read_table, fake)
    raises(r"old binary Excel \(.xls\)", read_table, write(tmp_path / "old.xls", "x"))


def test_parquet_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "t.parquet"
    pd.DataFrame({"id": ["a", "b"], "x": [1, 2]}).to_parquet(path)
    assert read_table(path, required=["id", "x"]).shape == (2, 2)
    raises(r"missing required column 'y'", read_table, path, required=["y"])


# --- locating files -------------------------------------------------------------------------


def test_missing_file_names_the_setting(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SEGBENCH_DATA_DIR", str(tmp_path))
    message = raises(r"does not exist", resolve_path, None, "mall_customers.csv.gz", "mall")
    assert str(tmp_path / "mall_customers.csv.gz") in message
    assert f"SEGBENCH_DATA_DIR='{tmp_path}'" in message
    monkeypatch.delenv("SEGBENCH_DATA_DIR")
    raises(r"SEGBENCH_DATA_DIR is not set", resolve_path, None, "x.csv", "x")
    raises(r"is a folder, not a file", resolve_path, tmp_path, "x.csv", "x")
    present = write(tmp_path / "x.csv", "a\n1\n")
    assert resolve_path(str(present), "x.csv", "x") == present.resolve()


# --- the adapters use the same errors -----------------------------------------------------


def test_adapter_missing_column(tmp_path: Path) -> None:
    path = write(tmp_path / "mall.csv", "CustomerID,Gender,Age\n0001,Male,19\n")
    message = raises(
        r"missing required columns 'Genre', 'Annual Income \(k\$\)', 'Spending Score \(1-100\)'",
        MallCustomersDataset(path=path, cache=False).load,
    )
    assert "['CustomerID', 'Gender', 'Age']" in message


def test_adapter_bad_values(tmp_path: Path) -> None:
    header = "CustomerID,Genre,Age,Annual Income (k$),Spending Score (1-100)\n"
    path = write(tmp_path / "mall.csv", header + "0001,Male,nineteen,15,39\n")
    raises(r"column 'Age' must be numeric; found e.g. \['nineteen'\]",
           MallCustomersDataset(path=path, cache=False).load)  # fmt: skip
    path = write(tmp_path / "mall2.csv", header + "0001,Other,19,15,39\n")
    raises(r"column 'Genre' must be one of", MallCustomersDataset(path=path, cache=False).load)


def test_adapter_empty_file(tmp_path: Path) -> None:
    path = tmp_path / "marketing.csv"
    path.write_bytes(b"")
    raises(r"marketing.csv: the file is empty", MarketingCampaignDataset(path=path).load)


# --- cleaning helpers -----------------------------------------------------------------------


def test_cleaning_log_and_age_band() -> None:
    log = CleaningLog()
    log.add("a", 10, 8, "why", customers=5)
    log.add("b", 8, 8, "fix")
    assert [s.dropped for s in log.steps] == [2, 0] and log.customers == {"a": 5}
    bands = age_band(pd.Series([17, 18, 29.9, 30, 69, 70, 99, None]))
    assert bands.tolist()[:7] == ["<18", "18-29", "18-29", "30-39", "60-69", "70+", "70+"]
    assert pd.isna(bands.iloc[7])
