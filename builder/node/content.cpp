#include "builder/node/content.hpp"

#include <memory>

#include "util/sha256.hpp"

namespace ef::node {

void Content::dir(const std::string& path, const std::string& origin, uint32_t mode) {
  Entry e;
  e.kind = Entry::Kind::directory;
  e.path = path;
  e.mode = mode;
  e.origin = origin;
  entries_.push_back(std::move(e));
}

void Content::file(const std::string& path, std::string text, const std::string& origin,
                   uint32_t mode, bool secret) {
  Entry e;
  e.path = path;
  e.text = std::move(text);
  e.mode = mode;
  e.secret = secret;
  e.origin = origin;
  entries_.push_back(std::move(e));
}

void Content::blob(const std::string& path, const std::filesystem::path& blob,
                   const std::string& sha256, const std::string& origin, uint32_t mode) {
  Entry e;
  e.path = path;
  e.blob = blob;
  e.sha256 = sha256;
  e.mode = mode;
  e.origin = origin;
  entries_.push_back(std::move(e));
}

void Content::link(const std::string& path, const std::string& target, const std::string& origin) {
  Entry e;
  e.kind = Entry::Kind::symlink;
  e.path = path;
  e.text = target;
  e.mode = 0777;
  e.origin = origin;
  entries_.push_back(std::move(e));
}

void Content::append(const Content& other) {
  entries_.insert(entries_.end(), other.entries_.begin(), other.entries_.end());
}

const Entry* Content::find(const std::string& path) const {
  for (auto it = entries_.rbegin(); it != entries_.rend(); ++it)
    if (it->path == path) return &*it;
  return nullptr;
}

nlohmann::json Content::record() const {
  nlohmann::json out = nlohmann::json::array();
  for (const auto& e : entries_) {
    nlohmann::json r = {{"path", e.path}, {"origin", e.origin}};
    switch (e.kind) {
      case Entry::Kind::directory:
        r["type"] = "directory";
        break;
      case Entry::Kind::symlink:
        r["type"] = "symlink";
        r["target"] = e.text;
        break;
      case Entry::Kind::file:
        r["type"] = "file";
        r["mode"] = e.mode;
        // A digest of a short secret would let anyone with the manifest
        // test guesses against it, so secret files carry none.
        if (e.secret)
          r["secret"] = true;
        else
          r["sha256"] = e.blob.empty() ? sha256_hex(e.text) : e.sha256;
        break;
    }
    out.push_back(std::move(r));
  }
  return out;
}

Result<void> apply_content(tree::Tree& tree, const Content& content, int64_t mtime,
                           const std::string& label) {
  tree.begin_layer();
  tree::SourceInfo info;
  info.kind = tree::SourceInfo::Kind::inline_files;
  info.label = label;
  uint32_t source = tree.add_source(info);
  uint64_t ordinal = 0;
  for (const auto& e : content.entries()) {
    auto inode = std::make_shared<tree::Inode>();
    inode->mode = e.mode;
    inode->mtime = mtime;
    switch (e.kind) {
      case Entry::Kind::directory:
        inode->type = tree::NodeType::directory;
        break;
      case Entry::Kind::symlink:
        inode->type = tree::NodeType::symlink;
        inode->target = e.text;
        inode->size = e.text.size();
        break;
      case Entry::Kind::file:
        inode->type = tree::NodeType::regular;
        if (e.blob.empty()) {
          inode->size = e.text.size();
          inode->data = tree::DataRef{tree::DataRef::Kind::inline_bytes, source, ordinal++,
                                      std::make_shared<const std::string>(e.text)};
        } else {
          std::error_code ec;
          auto size = std::filesystem::file_size(e.blob, ec);
          if (ec)
            return Error(Errc::io, label + ": " + e.path + ": cannot read " + e.blob.string());
          inode->size = size;
          inode->data = tree::DataRef{tree::DataRef::Kind::host_file, source, ordinal++,
                                      std::make_shared<const std::string>(e.blob.string())};
        }
        break;
    }
    auto put = tree.put(e.path, std::move(inode));
    if (!put) return std::move(put).error().with_context(label + " (" + e.origin + ")");
  }
  return Ok{};
}

}  // namespace ef::node
