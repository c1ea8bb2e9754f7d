// Tests for the PE32+ reader and writer. systemd's EFI stub is the real
// input; binutils (objdump, objcopy) are the oracle for what we write.
#include "util/pe_file.hpp"

#include <gtest/gtest.h>

#include <filesystem>
#include <iomanip>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "tests/support/command.hpp"
#include "tests/support/pe_oracle.hpp"
#include "tests/support/temp_dir.hpp"
#include "util/atomic_file.hpp"

namespace ef::pe {
namespace {

namespace fs = std::filesystem;
using test::run_command;

using test::kSystemdStub;
using test::ObjdumpSection;
using test::objdump_sections;

std::string q(const fs::path& p) {
  return test::shell_quote(p);
}

uint32_t le32(std::string_view s, size_t at) {
  uint32_t v = 0;
  for (int i = 3; i >= 0; --i) v = v << 8 | static_cast<unsigned char>(s[at + i]);
  return v;
}

void set32(std::string& s, size_t at, uint32_t v) {
  for (int i = 0; i < 4; ++i) s[at + i] = static_cast<char>(v >> (8 * i));
}

uint64_t align(uint64_t v, uint64_t a) {
  return (v + a - 1) / a * a;
}

class PeFileTest : public test::TempDirTest {
 protected:
  void SetUp() override {
    if (!fs::exists(kSystemdStub))
      GTEST_SKIP() << kSystemdStub << " missing (install systemd-boot-efi)";
    if (!test::have_tool("objdump") || !test::have_tool("objcopy"))
      GTEST_SKIP() << "objdump/objcopy missing (install binutils)";
    auto stub = read_file(kSystemdStub);
    ASSERT_TRUE(stub) << stub.error().message();
    stub_ = std::move(*stub);
  }

  std::string section_bytes(const fs::path& file, const std::string& name) {
    return test::objcopy_section(file, name, tmp.path());
  }

  std::string stub_;
};

TEST_F(PeFileTest, ParsesTheSystemdStubAsObjdumpDoes) {
  auto layout = parse(stub_);
  ASSERT_TRUE(layout) << layout.error().message();
  EXPECT_EQ(layout->machine, kMachineAmd64);
  EXPECT_EQ(layout->section_alignment, 0x200u);
  EXPECT_EQ(layout->file_alignment, 0x200u);
  EXPECT_EQ(layout->size_of_headers, 0x400u);
  EXPECT_EQ(layout->number_of_rva_and_sizes, 16u);
  EXPECT_EQ(layout->checksum_offset, layout->optional_header_offset + 64);
  ASSERT_TRUE(layout->certificate_entry_offset);
  EXPECT_EQ(*layout->certificate_entry_offset, layout->optional_header_offset + 144);
  EXPECT_EQ(layout->certificate_table.size, 0u);

  auto expected = objdump_sections(kSystemdStub);
  ASSERT_EQ(layout->sections.size(), expected.size());
  for (size_t i = 0; i < expected.size(); ++i) {
    const Section& s = layout->sections[i];
    SCOPED_TRACE(expected[i].name);
    EXPECT_EQ(s.name, expected[i].name);
    EXPECT_EQ(s.virtual_address, expected[i].vma);
    EXPECT_EQ(s.virtual_size, expected[i].size);
    EXPECT_EQ(s.raw_offset, expected[i].file_offset);
  }
  EXPECT_EQ(layout->sections.back().virtual_address + layout->sections.back().virtual_size,
            0x19134u);
}

TEST_F(PeFileTest, AddedSectionsAreWhereObjdumpFindsThem) {
  std::string kernel(70001, '\0');
  for (size_t i = 0; i < kernel.size(); ++i) kernel[i] = static_cast<char>(i * 7 + 3);
  std::vector<NewSection> added = {{".osrel", "ID=edgeforge\n"},
                                   {".cmdline", "console=ttyS0 quiet"},
                                   {".linux", kernel},
                                   {".initrd", std::string(513, 'i')}};
  auto uki = add_sections(stub_, added);
  ASSERT_TRUE(uki) << uki.error().message();
  fs::path file = tmp.write("uki.efi", *uki);

  auto sections = objdump_sections(file);
  ASSERT_EQ(sections.size(), 8 + added.size());
  uint64_t vma = 0x19200;     // 0x19134, the stub's end, aligned to 0x200
  uint64_t offset = 0x11400;  // right after the stub's last section
  for (size_t i = 0; i < added.size(); ++i) {
    const ObjdumpSection& s = sections[8 + i];
    SCOPED_TRACE(added[i].name);
    EXPECT_EQ(s.name, added[i].name);
    EXPECT_EQ(s.vma, vma);
    EXPECT_EQ(s.size, added[i].data.size());
    EXPECT_EQ(s.file_offset, offset);
    EXPECT_EQ(section_bytes(file, added[i].name), added[i].data);
    vma = align(vma + added[i].data.size(), 0x200);
    offset += align(added[i].data.size(), 0x200);
  }
  // The stub's own sections are untouched.
  EXPECT_EQ(section_bytes(file, ".sbat"), section_bytes(kSystemdStub, ".sbat"));

  // The COFF symbol table moved behind the new sections and still reads.
  auto symbols = run_command("objdump -t " + q(file) + " 2>/dev/null");
  EXPECT_EQ(symbols.status, 0);
  EXPECT_NE(symbols.out.find("strcmp16"), std::string::npos) << symbols.out.substr(0, 2000);

  auto headers = run_command("objdump -p " + q(file) + " 2>/dev/null");
  std::ostringstream size_of_image;
  size_of_image << "SizeOfImage\t\t" << std::hex << std::setw(8) << std::setfill('0') << vma;
  EXPECT_NE(headers.out.find(size_of_image.str()), std::string::npos) << headers.out;
  EXPECT_NE(headers.out.find("CheckSum\t\t00000000"), std::string::npos);

  auto layout = parse(*uki);
  ASSERT_TRUE(layout) << layout.error().message();
  EXPECT_EQ(layout->size_of_image, vma);
}

TEST_F(PeFileTest, AddSectionsIsDeterministic) {
  std::vector<NewSection> added = {{".cmdline", "a b c"}, {".linux", std::string(5000, 'k')}};
  auto first = add_sections(stub_, added);
  auto second = add_sections(stub_, added);
  ASSERT_TRUE(first && second);
  EXPECT_EQ(*first, *second);
}

TEST_F(PeFileTest, AddSectionsRefusesBadSections) {
  auto refused = [&](std::vector<NewSection> sections, const std::string& why) {
    auto r = add_sections(stub_, sections);
    ASSERT_FALSE(r) << why;
    EXPECT_NE(r.error().message().find(why), std::string::npos) << r.error().message();
  };
  refused({{".text", "x"}}, "already has a section .text");
  refused({{".linux", "x"}, {".linux", "y"}}, "already has a section .linux");
  refused({{".cmdline", ""}}, ".cmdline is empty");
  refused({{".toolongname", "x"}}, "1 to 8 characters");
  refused({{"", "x"}}, "1 to 8 characters");
}

TEST_F(PeFileTest, AddSectionsStopsWhenTheHeadersAreFull) {
  // The stub's table of 8 ends at 0x2c8 and its first section starts at
  // 0x400: room for 7 more 40-byte headers.
  std::vector<NewSection> added;
  for (int i = 0; i < 7; ++i) added.push_back({".s" + std::to_string(i), "data"});
  auto seven = add_sections(stub_, added);
  ASSERT_TRUE(seven) << seven.error().message();
  EXPECT_EQ(objdump_sections(tmp.write("seven.efi", *seven)).size(), 15u);

  added.push_back({".s7", "data"});
  auto eight = add_sections(stub_, added);
  ASSERT_FALSE(eight);
  EXPECT_NE(eight.error().message().find("no room for 8 more section headers"), std::string::npos)
      << eight.error().message();
}

TEST_F(PeFileTest, AddSectionsDropsASignature) {
  auto prepared = prepare_for_signing(stub_);
  ASSERT_TRUE(prepared) << prepared.error().message();
  auto signed_image = attach_signature(*prepared, std::string(100, 's'));
  ASSERT_TRUE(signed_image) << signed_image.error().message();
  auto with = parse(*signed_image);
  ASSERT_TRUE(with);
  EXPECT_EQ(with->certificate_table.address, prepared->size());

  auto uki = add_sections(*signed_image, {{".linux", "kernel"}});
  ASSERT_TRUE(uki) << uki.error().message();
  auto layout = parse(*uki);
  ASSERT_TRUE(layout) << layout.error().message();
  EXPECT_EQ(layout->certificate_table.address, 0u);
  EXPECT_EQ(layout->certificate_table.size, 0u);
  EXPECT_EQ(uki->find(std::string(100, 's')), std::string::npos);
}

TEST_F(PeFileTest, SignaturesGoIntoAnAlignedCertificateTable) {
  auto prepared = prepare_for_signing(stub_);
  ASSERT_TRUE(prepared) << prepared.error().message();
  EXPECT_EQ(prepared->size() % 8, 0u);
  EXPECT_GE(prepared->size(), stub_.size());
  auto layout = parse(*prepared);
  ASSERT_TRUE(layout);
  EXPECT_EQ(le32(*prepared, layout->checksum_offset), 0u);

  const std::string der = "0123456789";  // stands in for the PKCS#7 blob
  auto signed_image = attach_signature(*prepared, der);
  ASSERT_TRUE(signed_image) << signed_image.error().message();
  ASSERT_EQ(signed_image->size(), prepared->size() + 24);  // 8 + 10, padded to 8
  const size_t at = prepared->size();
  EXPECT_EQ(le32(*signed_image, at), 18u);              // dwLength: header + data
  EXPECT_EQ(le32(*signed_image, at + 4), 0x00020200u);  // revision 2.0, PKCS_SIGNED_DATA
  EXPECT_EQ(signed_image->substr(at + 8, der.size()), der);
  auto signed_layout = parse(*signed_image);
  ASSERT_TRUE(signed_layout) << signed_layout.error().message();
  EXPECT_EQ(signed_layout->certificate_table.address, at);
  EXPECT_EQ(signed_layout->certificate_table.size, 24u);

  // The hash covers neither the table nor its directory entry.
  EXPECT_EQ(authenticode_sha256(*signed_image, *signed_layout),
            authenticode_sha256(*prepared, *layout));
  // Signing again replaces the signature.
  auto again = prepare_for_signing(*signed_image);
  ASSERT_TRUE(again);
  EXPECT_EQ(*again, *prepared);
}

TEST_F(PeFileTest, AuthenticodeHashSkipsTheChecksumButNotTheCode) {
  auto layout = parse(stub_);
  ASSERT_TRUE(layout);
  const std::string digest = authenticode_sha256(stub_, *layout);
  EXPECT_EQ(digest.size(), 64u);

  std::string checksum_changed = stub_;
  set32(checksum_changed, layout->checksum_offset, 0x12345678);
  EXPECT_EQ(authenticode_sha256(checksum_changed, *layout), digest);

  std::string code_changed = stub_;
  code_changed[layout->sections[0].raw_offset + 100] ^= 1;
  EXPECT_NE(authenticode_sha256(code_changed, *layout), digest);

  std::string header_changed = stub_;
  header_changed[layout->optional_header_offset + 4] ^= 1;  // SizeOfCode
  EXPECT_NE(authenticode_sha256(header_changed, *layout), digest);
}

// --- malformed input ----------------------------------------------------------

void expect_malformed(std::string_view image, const std::string& why) {
  auto r = parse(image);
  ASSERT_FALSE(r) << why;
  EXPECT_NE(r.error().message().find(why), std::string::npos) << r.error().message();
  EXPECT_EQ(r.error().message().find('\n'), std::string::npos);
}

TEST_F(PeFileTest, TruncatedImagesAreErrors) {
  // Up to the end of the last section's data: every cut loses something.
  for (size_t size : {0, 1, 0x3b, 0x3f, 0x40, 0x80, 0x84, 0x99, 0xa0, 0x187, 0x188, 0x2c7, 0x3ff,
                      0x400, 0x401, 0xc400, 0x11000, 0x113ff}) {
    SCOPED_TRACE(size);
    auto r = parse(std::string_view(stub_).substr(0, size));
    ASSERT_FALSE(r);
    EXPECT_NE(r.error().message().find("malformed PE image"), std::string::npos);
  }
  // Past it only the COFF symbol table is cut, which the image does not need.
  EXPECT_TRUE(parse(std::string_view(stub_).substr(0, 0x11400)));
}

TEST_F(PeFileTest, WrongMagicNumbersAreErrors) {
  std::string mz = stub_;
  mz[0] = 'X';
  expect_malformed(mz, "no MZ signature at offset 0x0");

  std::string pe = stub_;
  pe[0x80] = 'Q';
  expect_malformed(pe, "no PE signature at offset 0x80");

  std::string pe32 = stub_;
  pe32[0x98] = 0x0b;
  pe32[0x99] = 0x01;
  expect_malformed(pe32, "optional header magic 0x10b at offset 0x98 is not PE32+");

  std::string lfanew = stub_;
  set32(lfanew, 0x3c, 0xfffffff0);
  expect_malformed(lfanew, "e_lfanew at offset 0x3c points to 0xfffffff0");

  EXPECT_FALSE(add_sections(pe32, {{".linux", "k"}}));
}

TEST_F(PeFileTest, SectionsOutsideTheFileAreErrors) {
  auto layout = parse(stub_);
  ASSERT_TRUE(layout);
  const size_t last = layout->section_table_offset + 7 * 40;  // .sdmagic's header

  std::string past_end = stub_;
  set32(past_end, last + 16, 0x10000000);  // SizeOfRawData
  expect_malformed(past_end,
                   "section 7 (.sdmagic): its data [0x11200, 0x10011200) runs past "
                   "the end of the file");

  std::string in_headers = stub_;
  set32(in_headers, last + 20, 0x200);  // PointerToRawData
  expect_malformed(in_headers, "overlaps the headers");

  std::string overlapping = stub_;
  set32(overlapping, last + 20, 0x11100);  // into .sbat's data
  expect_malformed(overlapping, "section 6 (.sbat) and section 7 (.sdmagic) overlap in the file");

  std::string same_memory = stub_;
  set32(same_memory, last + 12, 0x19000);  // .sbat's address
  expect_malformed(same_memory, "overlap in memory");

  std::string count = stub_;
  count[layout->coff_header_offset + 2] = 40;  // 40 sections do not fit before 0x400
  expect_malformed(count, "runs past SizeOfHeaders");

  std::string table = stub_;
  set32(table, *layout->certificate_entry_offset, 0x11000);
  set32(table, *layout->certificate_entry_offset + 4, 0x100);
  expect_malformed(table, "certificate table at 0x11000 overlaps the headers or sections");
  set32(table, *layout->certificate_entry_offset, 0x14000);
  set32(table, *layout->certificate_entry_offset + 4, 0x1000);
  expect_malformed(table, "certificate table [0x14000, 0x15000)");
}

// The parser takes untrusted files: random damage to the headers must give
// an error or a layout that every other function can use, never a crash.
TEST_F(PeFileTest, DamagedHeadersNeverCrash) {
  std::mt19937_64 rng(42);
  const std::string base = stub_.substr(0, 0x11400);
  int parsed = 0;
  for (int round = 0; round < 3000; ++round) {
    std::string image = base;
    int flips = 1 + static_cast<int>(rng() % 8);
    for (int i = 0; i < flips; ++i) {
      // Mostly the fields parse() reads, sometimes anywhere in the headers.
      size_t at = rng() % 2 ? 0x80 + rng() % 0x248 : rng() % 0x400;
      image[at] = static_cast<char>(rng());
    }
    if (rng() % 4 == 0) image.resize(rng() % image.size());
    auto layout = parse(image);
    if (!layout) continue;
    ++parsed;
    (void)authenticode_sha256(image, *layout);
    (void)add_sections(image, {{".linux", "kernel"}});
    if (auto prepared = prepare_for_signing(image)) (void)attach_signature(*prepared, "sig");
  }
  EXPECT_GT(parsed, 0);
}

}  // namespace
}  // namespace ef::pe
